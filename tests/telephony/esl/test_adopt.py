"""Taking over another process's legs: a dialer worker adopts the calls of a worker that died, over its own
connection to the same switch, and from then on they are reported as if it had originated them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from engage.telephony.esl.client import EslClient
from engage.telephony.esl.switch import EslSwitch, InvalidSwitchCommand
from engage.telephony.events import (
    LegAnswered,
    LegHangup,
    LegOutcome,
    LegRinging,
    RegistrationChanged,
    SwitchEvent,
)
from engage.telephony.port import Originate, SwitchError
from engage.telephony.sim.server import Behaviour, SwitchSimulator

from .conftest import WAIT_SECONDS, SwitchFactory, collect_until


def _originate(destination: str) -> Originate:
    return Originate(leg_id=str(uuid.uuid4()), destination=destination, caller_id="+97143334444", timeout_seconds=30)


def _of(leg_id: str, seen: list[SwitchEvent]) -> list[SwitchEvent]:
    return [e for e in seen if getattr(e, "leg_id", None) == leg_id]


def _is(kind: type[SwitchEvent], leg_id: str) -> Callable[[SwitchEvent], bool]:
    return lambda e: isinstance(e, kind) and getattr(e, "leg_id", None) == leg_id


async def _adopt(switch: EslSwitch, leg_id: str, *, answered: bool) -> bool:
    return await asyncio.wait_for(switch.adopt(leg_id, answered=answered), WAIT_SECONDS)


class TestAdopt:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        # Half a second of ringing, to adopt a leg while it rings; calls stay up until hung up.
        return Behaviour(ring_seconds=(0.5, 0.5), talk_seconds=(30.0, 30.0), seed=7)

    async def test_an_adopted_answered_leg_reports_its_hangup_as_completed(
        self,
        switch: EslSwitch,
        events: AsyncIterator[SwitchEvent],
        sim: SwitchSimulator,
        another_switch: SwitchFactory,
    ) -> None:
        dead_worker = await another_switch()
        sim.force_outcome("+971501120001", "answer")
        leg = _originate("+971501120001")
        await dead_worker.originate(leg)
        await collect_until(dead_worker.events(), _is(LegAnswered, leg.leg_id))

        adopted = await _adopt(switch, leg.leg_id, answered=True)
        await asyncio.wait_for(switch.hangup(leg.leg_id), WAIT_SECONDS)
        seen = _of(leg.leg_id, await collect_until(events, _is(LegHangup, leg.leg_id)))

        assert adopted is True
        assert [type(e) for e in seen] == [LegHangup]  # its ringing and answer were before: not repeated
        hangup = seen[-1]
        assert isinstance(hangup, LegHangup)
        assert (hangup.outcome, hangup.cause) == (LegOutcome.completed, "NORMAL_CLEARING")
        assert switch.active_legs == frozenset()

    async def test_a_leg_adopted_while_ringing_reports_its_machine_answer_and_ends_as_voicemail(
        self,
        switch: EslSwitch,
        events: AsyncIterator[SwitchEvent],
        sim: SwitchSimulator,
        another_switch: SwitchFactory,
    ) -> None:
        dead_worker = await another_switch()
        sim.force_outcome("+971501120002", "voicemail")
        leg = _originate("+971501120002")
        await dead_worker.originate(leg)
        await collect_until(dead_worker.events(), _is(LegRinging, leg.leg_id))

        assert await _adopt(switch, leg.leg_id, answered=False) is True
        answered = await collect_until(events, _is(LegAnswered, leg.leg_id))
        await asyncio.wait_for(switch.hangup(leg.leg_id), WAIT_SECONDS)
        ended = await collect_until(events, _is(LegHangup, leg.leg_id))

        answer, hangup = answered[-1], ended[-1]
        assert isinstance(answer, LegAnswered)
        assert answer.machine
        assert isinstance(hangup, LegHangup)
        assert hangup.outcome is LegOutcome.voicemail

    async def test_adopting_a_leg_the_switch_no_longer_has_returns_false_and_reports_nothing(
        self,
        switch: EslSwitch,
        events: AsyncIterator[SwitchEvent],
        sim: SwitchSimulator,
        another_switch: SwitchFactory,
    ) -> None:
        dead_worker = await another_switch()
        sim.force_outcome("+971501120003", "busy")
        leg = _originate("+971501120003")
        await dead_worker.originate(leg)
        await collect_until(dead_worker.events(), _is(LegHangup, leg.leg_id))

        adopted = await _adopt(switch, leg.leg_id, answered=False)
        # A later event of the switch: everything about the leg that could be reported was reported before it.
        sim.register("sentinel")
        seen = await collect_until(events, lambda e: isinstance(e, RegistrationChanged) and e.sip_user == "sentinel")

        assert adopted is False
        assert _of(leg.leg_id, seen) == []
        assert switch.active_legs == frozenset()

    async def test_adopting_a_leg_already_tracked_returns_true_and_changes_nothing(
        self, switch: EslSwitch, events: AsyncIterator[SwitchEvent], sim: SwitchSimulator
    ) -> None:
        sim.force_outcome("+971501120004", "answer")
        leg = _originate("+971501120004")
        await switch.originate(leg)
        await collect_until(events, _is(LegAnswered, leg.leg_id))

        adopted = await _adopt(switch, leg.leg_id, answered=False)
        await asyncio.wait_for(switch.hangup(leg.leg_id), WAIT_SECONDS)
        sim.register("sentinel")
        seen = _of(
            leg.leg_id,
            await collect_until(events, lambda e: isinstance(e, RegistrationChanged) and e.sip_user == "sentinel"),
        )

        assert adopted is True
        hangups = [e for e in seen if isinstance(e, LegHangup)]
        assert [h.outcome for h in hangups] == [LegOutcome.completed]

    async def test_an_invalid_leg_id_is_refused_and_nothing_is_tracked(self, switch: EslSwitch) -> None:
        with pytest.raises(InvalidSwitchCommand):
            await switch.adopt("not a leg id", answered=True)

        assert switch.active_legs == frozenset()

    async def test_a_switch_that_cannot_be_asked_is_a_switch_error_and_nothing_is_tracked(
        self, switch: EslSwitch, client: EslClient
    ) -> None:
        await client.close()

        with pytest.raises(SwitchError):
            await _adopt(switch, str(uuid.uuid4()), answered=True)

        assert switch.active_legs == frozenset()
