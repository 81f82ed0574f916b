"""EslSwitch against the switch simulator over a real socket: outcomes, bridging, registrations, and what a
lost connection does to calls in progress."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from engage.telephony.esl.client import Backoff, EslClient, EslCommandError
from engage.telephony.esl.switch import LOST_ON_RECONNECT, EslSwitch, InvalidSwitchCommand
from engage.telephony.events import (
    LegAnswered,
    LegBridged,
    LegHangup,
    LegOutcome,
    LegRinging,
    RecordingStopped,
    RegistrationChanged,
    SwitchConnected,
    SwitchDisconnected,
    SwitchEvent,
)
from engage.telephony.port import Originate, SwitchError
from engage.telephony.sim.server import Behaviour, SwitchSimulator

from .conftest import PASSWORD, WAIT_SECONDS, SwitchFactory, collect_until

CALLER_ID = "+97143334444"


def _originate(destination: str, *, to_agent: bool = False, timeout_seconds: int = 30) -> Originate:
    return Originate(
        leg_id=str(uuid.uuid4()),
        destination=destination,
        caller_id=CALLER_ID,
        timeout_seconds=timeout_seconds,
        to_agent=to_agent,
    )


def _of(leg_id: str, seen: list[SwitchEvent]) -> list[SwitchEvent]:
    return [e for e in seen if getattr(e, "leg_id", None) == leg_id]


def _hangup_of(leg_id: str) -> Callable[[SwitchEvent], bool]:
    return lambda e: isinstance(e, LegHangup) and e.leg_id == leg_id


async def _call(
    switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator, destination: str, outcome: str
) -> list[SwitchEvent]:
    sim.force_outcome(destination, outcome)
    request = _originate(destination)
    await asyncio.wait_for(switch.originate(request), WAIT_SECONDS)
    return _of(request.leg_id, await collect_until(events, _hangup_of(request.leg_id)))


class TestOutcomes:
    async def test_an_answered_call_rings_answers_and_completes_in_that_order(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        leg_events = await _call(switch, events, sim, "+971501110001", "answer")

        assert [type(e) for e in leg_events] == [LegRinging, LegAnswered, LegHangup]
        hangup = leg_events[-1]
        assert isinstance(hangup, LegHangup)
        assert hangup.outcome is LegOutcome.completed
        assert hangup.cause == "NORMAL_CLEARING"
        assert hangup.talk_seconds is not None
        assert switch.active_legs == frozenset()

    async def test_a_voicemail_answer_ends_as_voicemail(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        leg_events = await _call(switch, events, sim, "+971501110002", "voicemail")

        assert LegAnswered in [type(e) for e in leg_events]
        hangup = leg_events[-1]
        assert isinstance(hangup, LegHangup)
        assert hangup.outcome is LegOutcome.voicemail

    async def test_a_voicemail_answer_is_reported_as_a_machine(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        leg_events = await _call(switch, events, sim, "+971501110007", "voicemail")

        answers = [e for e in leg_events if isinstance(e, LegAnswered)]
        assert [a.machine for a in answers] == [True]

    async def test_a_person_answering_is_not_a_machine(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        leg_events = await _call(switch, events, sim, "+971501110008", "answer")

        answers = [e for e in leg_events if isinstance(e, LegAnswered)]
        assert [a.machine for a in answers] == [False]

    async def test_an_amd_machine_result_alone_marks_a_machine_and_ends_as_voicemail(
        self, another_switch: SwitchFactory, sim: SwitchSimulator
    ) -> None:
        # A marker the simulator never sets: only `variable_amd_result=MACHINE` tells the machine apart.
        amd_only = await another_switch(voicemail_marker=("variable_no_such_marker", "true"))

        leg_events = await _call(amd_only, amd_only.events(), sim, "+971501110009", "voicemail")

        answer, hangup = leg_events[-2], leg_events[-1]
        assert isinstance(answer, LegAnswered)
        assert answer.machine
        assert isinstance(hangup, LegHangup)
        assert hangup.outcome is LegOutcome.voicemail

    @pytest.mark.parametrize(
        ("outcome", "expected", "cause"),
        [
            ("busy", LegOutcome.busy, "USER_BUSY"),
            ("rejected", LegOutcome.failed, "CALL_REJECTED"),
            ("unallocated", LegOutcome.failed, "UNALLOCATED_NUMBER"),
        ],
    )
    async def test_an_unanswered_call_ends_once_with_the_outcome_of_its_cause(
        self,
        switch: EslSwitch,
        events: AsyncIterator[SwitchEvent],
        sim: SwitchSimulator,
        outcome: str,
        expected: LegOutcome,
        cause: str,
    ) -> None:
        leg_events = await _call(switch, events, sim, "+971501110003", outcome)

        hangups = [e for e in leg_events if isinstance(e, LegHangup)]
        assert len(hangups) == 1
        assert (hangups[0].outcome, hangups[0].cause) == (expected, cause)
        assert LegAnswered not in [type(e) for e in leg_events]
        assert hangups[0].talk_seconds is None

    async def test_a_call_nobody_answers_ends_as_no_answer(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        sim.force_outcome("+971501110004", "no_answer")
        request = _originate("+971501110004", timeout_seconds=1)
        await asyncio.wait_for(switch.originate(request), WAIT_SECONDS)

        leg_events = _of(request.leg_id, await collect_until(events, _hangup_of(request.leg_id)))

        hangup = leg_events[-1]
        assert isinstance(hangup, LegHangup)
        assert hangup.outcome is LegOutcome.no_answer
        assert hangup.cause in ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL")

    async def test_legs_we_did_not_originate_are_not_reported(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator, client: EslClient
    ) -> None:
        sim.force_outcome("+971501110005", "busy")
        stranger = str(uuid.uuid4())
        with pytest.raises(EslCommandError):
            await client.bgapi(f"originate {{origination_uuid={stranger}}}sofia/gateway/carrier1/+971501110005 &park()")
        sim.force_outcome("+971501110006", "busy")
        ours = _originate("+971501110006")
        await switch.originate(ours)

        seen = await collect_until(events, _hangup_of(ours.leg_id))

        assert {getattr(e, "leg_id", None) for e in seen} <= {None, ours.leg_id}


class TestCommands:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        # Calls that stay up until the test hangs them up.
        return Behaviour(ring_seconds=(0.01, 0.02), talk_seconds=(30.0, 30.0), seed=7)

    async def test_a_customer_and_a_registered_agent_are_bridged_and_both_legs_say_so(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        sim.register("agent7")
        sim.force_outcome("+971501110010", "answer")
        sim.force_outcome("agent7", "answer")
        customer = _originate("+971501110010")
        agent = _originate("agent7", to_agent=True)
        await switch.originate(customer)
        await switch.originate(agent)
        answered: set[str] = set()

        def both_answered(e: SwitchEvent) -> bool:
            if isinstance(e, LegAnswered):
                answered.add(e.leg_id)
            return answered == {customer.leg_id, agent.leg_id}

        await collect_until(events, both_answered)
        await asyncio.wait_for(switch.bridge(customer.leg_id, agent.leg_id), WAIT_SECONDS)
        bridged: dict[str, str] = {}

        def both_bridged(e: SwitchEvent) -> bool:
            if isinstance(e, LegBridged):
                bridged[e.leg_id] = e.other_leg_id
            return len(bridged) == 2

        await collect_until(events, both_bridged)
        await asyncio.wait_for(switch.hangup(customer.leg_id), WAIT_SECONDS)
        seen = await collect_until(events, _hangup_of(customer.leg_id))
        if agent.leg_id in switch.active_legs:
            # The switch may already be ending the agent's leg with its partner's (hangup_after_bridge).
            with contextlib.suppress(SwitchError):
                await asyncio.wait_for(switch.hangup(agent.leg_id), WAIT_SECONDS)
            seen += await collect_until(events, _hangup_of(agent.leg_id))

        assert bridged == {customer.leg_id: agent.leg_id, agent.leg_id: customer.leg_id}
        assert {e.outcome for e in seen if isinstance(e, LegHangup)} == {LegOutcome.completed}

    async def test_registrations_lists_the_registered_agents_and_changes_are_events(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        sim.register("agent8")
        registered = await collect_until(events, lambda e: isinstance(e, RegistrationChanged))
        assert await asyncio.wait_for(switch.registrations(), WAIT_SECONDS) >= {"agent8"}
        sim.unregister("agent8")
        unregistered = await collect_until(events, lambda e: isinstance(e, RegistrationChanged) and not e.registered)

        assert registered[-1] == RegistrationChanged(sip_user="agent8", registered=True, at=registered[-1].at)
        assert unregistered[-1] == RegistrationChanged(sip_user="agent8", registered=False, at=unregistered[-1].at)
        assert "agent8" not in await asyncio.wait_for(switch.registrations(), WAIT_SECONDS)

    async def test_a_recording_started_and_stopped_on_a_leg_reports_its_file(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator, tmp_path: Path
    ) -> None:
        sim.force_outcome("+971501110011", "answer")
        leg = _originate("+971501110011")
        await switch.originate(leg)
        await collect_until(events, lambda e: isinstance(e, LegAnswered) and e.leg_id == leg.leg_id)
        path = str(tmp_path / f"{leg.leg_id}.wav")

        await asyncio.wait_for(switch.start_recording(leg.leg_id, path), WAIT_SECONDS)
        await asyncio.wait_for(switch.stop_recording(leg.leg_id, path), WAIT_SECONDS)
        stopped = await collect_until(events, lambda e: isinstance(e, RecordingStopped))
        await switch.hangup(leg.leg_id)
        await collect_until(events, _hangup_of(leg.leg_id))

        assert stopped[-1] == RecordingStopped(leg_id=leg.leg_id, path=path, at=stopped[-1].at)

    async def test_hanging_up_a_leg_the_switch_does_not_know_is_a_switch_error(self, switch: EslSwitch) -> None:
        with pytest.raises(SwitchError):
            await asyncio.wait_for(switch.hangup(str(uuid.uuid4())), WAIT_SECONDS)

    async def test_exists_is_true_for_a_live_leg_and_false_for_one_the_switch_does_not_have(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        sim.force_outcome("+971501110012", "answer")
        leg = _originate("+971501110012")
        await switch.originate(leg)
        await collect_until(events, lambda e: isinstance(e, LegAnswered) and e.leg_id == leg.leg_id)

        assert await asyncio.wait_for(switch.exists(leg.leg_id), WAIT_SECONDS) is True
        assert await asyncio.wait_for(switch.exists(str(uuid.uuid4())), WAIT_SECONDS) is False
        await switch.hangup(leg.leg_id)
        await collect_until(events, _hangup_of(leg.leg_id))
        assert await asyncio.wait_for(switch.exists(leg.leg_id), WAIT_SECONDS) is False


class TestPlayAndHangup:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        return Behaviour(ring_seconds=(0.01, 0.02), talk_seconds=(30.0, 30.0), seed=7)

    @pytest.fixture
    def message_seconds(self) -> float:
        # Long enough to ask the switch about the leg while its message plays.
        return 0.3

    async def test_the_leg_hears_the_message_then_ends_with_normal_clearing(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        sim.force_outcome("+971501110030", "answer")
        leg = _originate("+971501110030")
        await switch.originate(leg)
        await collect_until(events, lambda e: isinstance(e, LegAnswered) and e.leg_id == leg.leg_id)

        await asyncio.wait_for(switch.play_and_hangup(leg.leg_id, "/var/lib/engage/abandon.wav"), WAIT_SECONDS)

        assert sim.legs[leg.leg_id].application == "playback"
        assert await asyncio.wait_for(switch.exists(leg.leg_id), WAIT_SECONDS) is True
        seen = await collect_until(events, _hangup_of(leg.leg_id))
        hangup = seen[-1]
        assert isinstance(hangup, LegHangup)
        assert (hangup.outcome, hangup.cause) == (LegOutcome.completed, "NORMAL_CLEARING")
        assert switch.active_legs == frozenset()

    async def test_a_leg_the_switch_does_not_know_is_a_switch_error(self, switch: EslSwitch) -> None:
        with pytest.raises(SwitchError, match="No such channel"):
            await asyncio.wait_for(
                switch.play_and_hangup(str(uuid.uuid4()), "/var/lib/engage/message.wav"), WAIT_SECONDS
            )

    @pytest.mark.parametrize(
        "path",
        [
            "/var/lib/engage/a,hangup.wav",
            "/var/lib/engage/it's.wav",
            "/var/lib/engage/a b.wav",
            "/var/lib/engage/${x}.wav",
            "",
        ],
    )
    async def test_a_path_that_could_rewrite_the_dialplan_is_refused_before_sending(
        self, switch: EslSwitch, sim: SwitchSimulator, path: str
    ) -> None:
        with pytest.raises(InvalidSwitchCommand):
            await switch.play_and_hangup(str(uuid.uuid4()), path)


class TestLostConnection:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        return Behaviour(ring_seconds=(0.01, 0.02), talk_seconds=(30.0, 30.0), seed=7)

    @pytest.fixture
    def reconnect_backoff(self) -> Backoff:
        # Slow enough that the test can end a leg while we are away.
        return Backoff(initial_seconds=0.4, max_seconds=0.4, jitter=0.0)

    async def test_after_a_drop_the_switch_reconnects_and_a_live_legs_later_events_still_arrive(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        sim.force_outcome("+971501110020", "answer")
        leg = _originate("+971501110020")
        await switch.originate(leg)
        await collect_until(events, lambda e: isinstance(e, LegAnswered) and e.leg_id == leg.leg_id)

        await sim.drop_connections()
        around_drop = await collect_until(events, lambda e: isinstance(e, SwitchConnected))
        await asyncio.wait_for(switch.hangup(leg.leg_id), WAIT_SECONDS)
        ended = await collect_until(events, _hangup_of(leg.leg_id))

        assert [type(e) for e in around_drop] == [SwitchDisconnected, SwitchConnected]
        assert isinstance(ended[-1], LegHangup)
        assert ended[-1].outcome is LegOutcome.completed

    async def test_a_leg_that_ended_while_disconnected_is_reconciled_to_a_hangup(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator, sim_port: int
    ) -> None:
        sim.force_outcome("+971501110021", "answer")
        leg = _originate("+971501110021")
        await switch.originate(leg)
        await collect_until(events, lambda e: isinstance(e, LegAnswered) and e.leg_id == leg.leg_id)

        await sim.drop_connections()
        # Another client of the switch kills the leg before ours is back (its back-off is 0.4 s).
        other = EslClient(command_timeout_seconds=1.0)
        try:
            await asyncio.wait_for(other.connect("127.0.0.1", sim_port, PASSWORD), WAIT_SECONDS)
            await asyncio.wait_for(other.api(f"uuid_kill {leg.leg_id}"), WAIT_SECONDS)
        finally:
            await other.close()
        seen = await collect_until(events, _hangup_of(leg.leg_id))

        hangup = seen[-1]
        assert isinstance(hangup, LegHangup)
        assert (hangup.outcome, hangup.cause) == (LegOutcome.failed, LOST_ON_RECONNECT)
        assert [type(e) for e in seen] == [SwitchDisconnected, SwitchConnected, LegHangup]
        assert switch.active_legs == frozenset()
