"""The worker end to end: the simulator over its real socket, the real compliance engine and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engage.agents import service as agents
from engage.agents.schemas import AgentStateChange, SettableStatus
from engage.campaigns import service as campaigns
from engage.contacts.models import Contact
from engage.core.db import tenant_transaction
from engage.core.principal import Principal, Role
from engage.core.runtime import Runtime
from engage.dialer.worker import WorkerConfig
from engage.telephony.sim.server import Behaviour

from ..factories import Factory
from .conftest import Dialer, Reader, Registries, ended, eventually, make_floor, random_ae_mobile

LIVE = {"dialing", "ringing", "answered", "bridged"}


def settled(contacts: list[Contact]) -> bool:
    return all(
        c.status in ("completed", "failed", "dnc") or (c.status == "pending" and c.attempts > 0) for c in contacts
    )


class TestProgressive:
    async def test_every_contact_is_dialled_once_bridged_to_an_agent_and_the_campaign_completes_itself(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=4, agents_count=2, wrap_up_seconds=1)
        await dialer.add_worker()

        campaign = await eventually(lambda: reader.campaign(floor), lambda c: c.status == "completed", "completion")

        calls = await reader.calls(floor)
        assert sorted(call.contact_phone for call in calls) == sorted(floor.phones)
        assert {call.status for call in calls} == {"completed"}
        assert all(call.agent_id in {a.id for a in floor.agents} for call in calls)
        assert all(call.bridged_at is not None and call.talk_time_seconds is not None for call in calls)
        assert all(call.cli is not None and call.compliance_audit_ref for call in calls)
        assert {c.status for c in await reader.contacts(floor)} == {"completed"}
        assert campaign.completed_at is not None
        assert [e.event_type for e in await reader.events(floor, "campaign.completed")] == ["campaign.completed"]

    async def test_every_attempt_has_exactly_one_audited_decision_and_one_event_of_each_kind(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=3, agents_count=1, wrap_up_seconds=1)
        await dialer.add_worker()
        await eventually(lambda: reader.campaign(floor), lambda c: c.status == "completed", "completion")

        calls = await reader.calls(floor)
        assert await reader.dialer_decisions(floor) == len(calls) == 3
        assert len({call.compliance_audit_ref for call in calls}) == 3
        events = await reader.events(floor)
        per_call = Counter((e.event_type, e.correlation_id) for e in events if e.event_type.startswith("call."))
        for call in calls:
            for kind in ("call.initiated", "call.answered", "call.completed"):
                assert per_call[(kind, call.id)] == 1, (kind, call.id)

    async def test_agent_goes_reserved_on_call_wrap_up_then_available(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1, agents_count=1, wrap_up_seconds=1)
        await dialer.add_worker()
        await eventually(lambda: reader.calls(floor), ended, "the call to end")
        dialer.clock.advance(2)  # past the wrap-up

        events = await eventually(
            lambda: reader.events(floor, "agent.state_changed"),
            lambda found: any(e.payload["previous_state"] == "wrap_up" for e in found),
            "wrap-up to end",
        )
        moves = [(e.payload["previous_state"], e.payload["state"]) for e in events]
        assert moves[-4:] == [
            ("available", "reserved"),
            ("reserved", "on_call"),
            ("on_call", "wrap_up"),
            ("wrap_up", "available"),
        ]


class TestPower:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        return Behaviour(
            answer_rate=1.0,
            busy_rate=0.0,
            voicemail_rate=0.0,
            ring_seconds=(0.05, 0.05),
            talk_seconds=(1.0, 1.0),
            seed=3,
        )

    async def test_more_answers_than_agents_are_abandoned_and_locked_out(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(
            factory, runtime, contacts_count=3, agents_count=1, mode="power", dial_ratio=3, abandon_lockout_hours=72
        )
        await dialer.add_worker()

        calls = await eventually(
            lambda: reader.calls(floor), lambda found: len(found) >= 3 and ended(found), "three calls to end"
        )
        abandoned = [call for call in calls if call.abandoned]
        assert len(abandoned) == 2
        assert all(call.bridged_at is None and call.agent_id is None for call in abandoned)
        assert len(await reader.events(floor, "call.abandoned")) == 2
        contacts = {c.id: c for c in await reader.contacts(floor)}
        for call in abandoned:
            contact = contacts[call.contact_id]
            assert contact.status == "pending"
            assert contact.next_attempt_at is not None
            assert contact.next_attempt_at >= call.ended_at + timedelta(hours=72)


class TestRetries:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        return Behaviour(answer_rate=0.0, busy_rate=1.0, voicemail_rate=0.0, ring_seconds=(0.05, 0.05), seed=5)

    async def test_busy_is_retried_after_the_delay_then_fails_at_max_attempts(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(
            factory, runtime, contacts_count=1, agents_count=1, max_attempts=2, retry_delay_minutes=60
        )
        await dialer.add_worker()
        [first] = await eventually(lambda: reader.calls(floor), ended, "the first call")
        [contact] = await reader.contacts(floor)
        assert (first.status, contact.status, contact.attempts) == ("busy", "pending", 1)
        assert contact.next_attempt_at == first.ended_at + timedelta(minutes=60)

        await asyncio.sleep(0.3)
        assert len(await reader.calls(floor)) == 1  # not before the delay
        # A day later: AE allows one unanswered call a day, so the retry must also clear the frequency cap.
        dialer.clock.advance(25 * 3600)
        calls = await eventually(lambda: reader.calls(floor), lambda c: len(c) == 2 and ended(c), "the retry")

        [contact] = await reader.contacts(floor)
        assert [call.status for call in calls] == ["busy", "busy"]
        assert (contact.status, contact.attempts) == ("failed", 2)
        await eventually(lambda: reader.campaign(floor), lambda c: c.status == "completed", "completion")


class TestUnallocated:
    async def test_an_unallocated_number_fails_at_once_without_a_retry(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        phone = random_ae_mobile()
        dialer.sim.force_outcome(phone, "unallocated")
        floor = await make_floor(factory, runtime, phones=[phone], agents_count=1, max_attempts=3)
        await dialer.add_worker()

        [call] = await eventually(lambda: reader.calls(floor), ended, "the call")
        [contact] = await reader.contacts(floor)
        assert (call.status, call.hangup_cause) == ("failed", "UNALLOCATED_NUMBER")
        assert (contact.status, contact.attempts) == ("failed", 1)


class TestComplianceGate:
    async def test_a_number_on_the_national_registry_is_never_dialled(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader, registries: Registries
    ) -> None:
        listed, free = random_ae_mobile(), random_ae_mobile()
        await registries.loaded("AE", listed)
        floor = await make_floor(factory, runtime, phones=[listed, free], agents_count=1, wrap_up_seconds=1)
        await dialer.add_worker()

        await eventually(lambda: reader.campaign(floor), lambda c: c.status == "completed", "completion")
        assert [call.contact_phone for call in await reader.calls(floor)] == [free]
        contact = next(c for c in await reader.contacts(floor) if c.phone == listed)
        assert (contact.status, contact.attempts) == ("dnc", 0)
        [blocked] = await reader.events(floor, "call.compliance_blocked")
        assert blocked.payload["blocking_rule"] == "dnc_national"
        assert blocked.payload["audit_ref"].startswith("AUD-")

    async def test_calling_hours_block_reschedules_to_the_next_window_without_spending_the_attempt(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        # 19:00 in Dubai on a Wednesday: after AE's 09:00-18:00; the next window opens Thursday 09:00.
        evening = datetime(2026, 6, 10, 19, 0, tzinfo=ZoneInfo("Asia/Dubai")).astimezone(UTC)
        dialer.clock.advance((evening - dialer.clock.now()).total_seconds())
        floor = await make_floor(factory, runtime, contacts_count=2, agents_count=1)
        await dialer.add_worker()

        contacts = await eventually(
            lambda: reader.contacts(floor), lambda found: all(c.next_attempt_at for c in found), "rescheduling"
        )
        morning = datetime(2026, 6, 11, 9, 0, tzinfo=ZoneInfo("Asia/Dubai"))
        assert all(c.status == "pending" and c.attempts == 0 for c in contacts)
        assert all(c.next_attempt_at == morning for c in contacts)
        assert await reader.calls(floor) == []
        assert len(await reader.events(floor, "call.compliance_blocked")) == 2
        assert (await reader.campaign(floor)).status == "active"


class TestLifecycle:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        return Behaviour(
            answer_rate=1.0,
            busy_rate=0.0,
            voicemail_rate=0.0,
            ring_seconds=(0.05, 0.05),
            talk_seconds=(1.0, 1.0),
            seed=9,
        )

    async def test_pausing_stops_new_dials_while_calls_in_progress_finish(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=5, agents_count=1, wrap_up_seconds=1)
        await dialer.add_worker()
        await eventually(
            lambda: reader.calls(floor), lambda c: any(call.status == "bridged" for call in c), "a bridged call"
        )
        async with tenant_transaction(runtime.sessions, floor.tenant.id) as session:
            await campaigns.pause_campaign(session, floor.campaign_id, clock=runtime.clock)

        calls = await eventually(lambda: reader.calls(floor), ended, "the call in progress to end")
        dialer.clock.advance(5)
        await asyncio.sleep(0.5)
        assert len(await reader.calls(floor)) == len(calls) == 1
        assert calls[0].status == "completed"
        assert (await reader.campaign(floor)).status == "paused"

    async def test_a_preview_campaign_is_never_dialled_by_the_worker(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=2, agents_count=1, mode="preview")
        await dialer.add_worker()
        await asyncio.sleep(0.5)
        assert await reader.calls(floor) == []
        assert (await reader.campaign(floor)).status == "active"

    async def test_the_esl_socket_dropped_mid_campaign_leaves_no_call_live(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=3, agents_count=1, wrap_up_seconds=1)
        await dialer.add_worker()
        await eventually(lambda: reader.calls(floor), lambda c: bool(c) and c[0].status == "bridged", "a call up")

        await dialer.sim.drop_connections()

        await eventually(lambda: reader.contacts(floor), settled, "every contact settled")
        calls = await eventually(lambda: reader.calls(floor), ended, "every call ended")
        assert not [call for call in calls if call.status in LIVE]
        assert {c.status for c in await reader.contacts(floor)} <= {"completed", "failed", "pending"}
        assert max(Counter(call.contact_id for call in calls).values()) <= 3


class TestLeases:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        return Behaviour(
            answer_rate=1.0,
            busy_rate=0.0,
            voicemail_rate=0.0,
            ring_seconds=(0.05, 0.1),
            talk_seconds=(0.8, 1.2),
            seed=21,
        )

    async def test_a_killed_workers_campaign_is_taken_over_and_nothing_is_dialled_twice(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader, worker_config: WorkerConfig
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=6, agents_count=2, wrap_up_seconds=1)
        first = await dialer.add_worker()
        await eventually(lambda: reader.calls(floor), lambda c: any(x.status == "bridged" for x in c), "a call up")
        assert floor.campaign_id in first.campaigns
        second = await dialer.add_worker()
        assert floor.campaign_id not in second.campaigns

        await dialer.kill(first)
        await eventually(
            lambda: asyncio.sleep(0, second.campaigns), lambda held: floor.campaign_id in held, "the takeover"
        )
        # Settled: every contact completed, or waiting for a retry (a callee let go at the takeover is an
        # unanswered call, and AE allows one of those a day).
        contacts = await eventually(lambda: reader.contacts(floor), settled, "every contact settled")

        calls = await reader.calls(floor)
        assert not [call for call in calls if call.status in LIVE]
        assert all(c.attempts <= 3 for c in contacts)
        assert sum(c.attempts for c in contacts) == len(calls)
        completed = Counter(call.contact_id for call in calls if call.bridged_at is not None)
        assert max(completed.values()) == 1  # nobody reached an agent twice

    async def test_a_graceful_stop_hands_the_lease_back_at_once(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1, agents_count=1)
        admin = await factory.user(floor.tenant, Role.admin)
        async with tenant_transaction(runtime.sessions, floor.tenant.id) as session:
            # The only agent on a break: the campaign stays active with nothing to dial.
            await agents.set_state(
                session,
                Principal(user_id=admin.id, tenant_id=floor.tenant.id, role=Role.admin),
                floor.agents[0].id,
                AgentStateChange(state=SettableStatus.break_),
                clock=runtime.clock,
            )
        first = await dialer.add_worker()
        assert floor.campaign_id in first.campaigns
        [(_, stop, task, _, _)] = dialer.workers
        stop.set()
        await asyncio.wait_for(task, 5)

        second = await dialer.add_worker()
        # Held from the second worker's first heartbeat, not after the stale period.
        assert floor.campaign_id in second.campaigns
        assert await reader.calls(floor) == []
