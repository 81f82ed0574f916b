"""Predictive campaigns on the worker: they start like any other and are paced by the predictive model, end to
end over the simulator's socket, the real compliance engine and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from engage.agents import service as agents
from engage.agents.schemas import AgentStateChange, SettableStatus
from engage.campaigns.schemas import DialingMode
from engage.core.db import tenant_transaction
from engage.core.principal import Principal, Role
from engage.core.runtime import Runtime
from engage.telephony.sim.server import Behaviour

from ..factories import Factory
from .conftest import Dialer, Floor, Reader, ended, eventually, make_floor

LIVE = {"dialing", "ringing", "answered", "bridged"}


class TestStart:
    async def test_a_predictive_campaign_starts_like_any_other(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1, mode=DialingMode.predictive, start=False)
        admin = await factory.user(floor.tenant, Role.admin)

        response = await client.post(f"/v1/campaigns/{floor.campaign_id}/start", headers=factory.headers(admin))

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "active"
        assert (await reader.campaign(floor)).status == "active"


class TestPredictiveDialling:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        """Everyone answers, after long enough a ring that every agent's phone has registered by then."""
        return Behaviour(
            answer_rate=1.0,
            busy_rate=0.0,
            voicemail_rate=0.0,
            ring_seconds=(0.3, 0.4),
            talk_seconds=(0.3, 0.5),
            seed=17,
        )

    async def test_every_contact_is_dialled_once_bridged_to_an_agent_and_the_campaign_completes_itself(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(
            factory, runtime, contacts_count=4, agents_count=4, mode=DialingMode.predictive, wrap_up_seconds=1
        )
        await dialer.add_worker()

        campaign = await eventually(lambda: reader.campaign(floor), lambda c: c.status == "completed", "completion")

        calls = await reader.calls(floor)
        assert sorted(call.contact_phone for call in calls) == sorted(floor.phones)
        assert {call.status for call in calls} == {"completed"}
        assert not any(call.abandoned for call in calls)
        assert all(call.agent_id in {a.id for a in floor.agents} for call in calls)
        assert all(call.bridged_at is not None and call.talk_time_seconds is not None for call in calls)
        assert {c.status for c in await reader.contacts(floor)} == {"completed"}
        assert campaign.completed_at is not None
        assert await reader.dialer_decisions(floor) == len(calls) == 4
        assert len({call.compliance_audit_ref for call in calls}) == 4

    async def test_with_more_contacts_than_agents_each_is_dialled_once_and_no_call_is_left_live(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(
            factory, runtime, contacts_count=8, agents_count=2, mode=DialingMode.predictive, wrap_up_seconds=1
        )
        await dialer.add_worker()

        calls = await eventually(
            lambda: reader.calls(floor), lambda found: len(found) == 8 and ended(found), "eight calls to end"
        )

        assert Counter(call.contact_phone for call in calls) == Counter(floor.phones)
        assert not LIVE & {call.status for call in calls}
        # A callee is bridged to an agent of the campaign, or to nobody (abandoned, or hung up while waiting).
        for call in calls:
            if call.bridged_at is not None:
                assert call.status == "completed"
                assert call.agent_id in {a.id for a in floor.agents}
            else:
                assert call.agent_id is None
        assert any(call.bridged_at is not None for call in calls)
        assert await reader.dialer_decisions(floor) == len(calls)
        per_call = Counter(
            (e.event_type, e.correlation_id) for e in await reader.events(floor) if e.event_type == "call.initiated"
        )
        assert all(per_call[("call.initiated", call.id)] == 1 for call in calls)


class TestNoAgent:
    async def test_with_no_agent_logged_in_the_worker_never_dials(
        self, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=3, agents_count=2, mode=DialingMode.predictive)
        await log_out(runtime, floor)
        worker = await dialer.add_worker()

        await eventually(lambda: held(worker.campaigns), lambda c: floor.campaign_id in c, "the worker to lease it")
        await asyncio.sleep(0.5)  # ten ticks of the test worker

        assert await reader.calls(floor) == []
        assert {c.attempts for c in await reader.contacts(floor)} == {0}
        assert await reader.dialer_decisions(floor) == 0


async def held(campaigns: frozenset[uuid.UUID]) -> frozenset[uuid.UUID]:
    return campaigns


async def log_out(runtime: Runtime, floor: Floor) -> None:
    admin = await Factory(runtime).user(floor.tenant, Role.admin)
    principal = Principal(user_id=admin.id, tenant_id=floor.tenant.id, role=Role.admin)
    async with tenant_transaction(runtime.sessions, floor.tenant.id) as session:
        for agent in floor.agents:
            await agents.set_state(
                session, principal, agent.id, AgentStateChange(state=SettableStatus.offline), clock=runtime.clock
            )
