"""What each stream carries: its tenant's events only, for every role; an agent only the events about itself;
`types` narrows by type or family. A marker event written last proves that what came before it was not sent."""

from __future__ import annotations

import json
import uuid

import pytest

from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from .conftest import Record, Serve


class TestTenants:
    @pytest.mark.parametrize("role", list(Role))
    async def test_a_stream_of_tenant_b_receives_nothing_of_tenant_a_whatever_the_role(
        self, serve: Serve, record: Record, factory: Factory, tenant: Tenant, other_tenant: Tenant, role: Role
    ) -> None:
        theirs = await factory.user(other_tenant, role)
        async with serve() as live, live.stream(headers=factory.headers(theirs)) as sse:
            for event_type in ("call.completed", "agent.state_changed", "dnc.added", "campaign.started"):
                await record(tenant, event_type, {"agent_id": str(theirs.id)})
            marker = await record(other_tenant, "call.completed", {"agent_id": str(theirs.id)})

            [first] = await sse.events(1)

        assert first.id == str(marker.id)
        assert first.data is not None
        assert json.loads(first.data)["tenant_id"] == str(other_tenant.id)


class TestAgents:
    async def test_an_agent_receives_only_events_whose_payload_names_it(
        self, serve: Serve, record: Record, factory: Factory, tenant: Tenant
    ) -> None:
        agent = await factory.user(tenant, Role.agent)
        colleague = await factory.user(tenant, Role.agent)
        async with serve() as live, live.stream(headers=factory.headers(agent)) as sse:
            await record(tenant, "call.completed", {"agent_id": str(colleague.id)})
            own = await record(tenant, "call.completed", {"agent_id": str(agent.id)})
            await record(tenant, "campaign.started", {"campaign_id": str(uuid.uuid4())})
            await record(tenant, "call.answered", {"agent_id": None})
            await record(tenant, "agent.state_changed", {"agent_id": str(colleague.id)})
            own_state = await record(tenant, "agent.state_changed", {"agent_id": str(agent.id)})

            messages = await sse.events(2)

        assert [m.id for m in messages] == [str(own.id), str(own_state.id)]

    @pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
    async def test_supervisors_and_admins_receive_every_event_of_their_tenant(
        self, serve: Serve, record: Record, factory: Factory, tenant: Tenant, role: Role
    ) -> None:
        watcher = await factory.user(tenant, role)
        agent = await factory.user(tenant, Role.agent)
        async with serve() as live, live.stream(headers=factory.headers(watcher)) as sse:
            recorded = [
                await record(tenant, "call.completed", {"agent_id": str(agent.id)}),
                await record(tenant, "campaign.started", {"campaign_id": str(uuid.uuid4())}),
                await record(tenant, "consent.recorded", {"consent_id": str(uuid.uuid4())}),
            ]

            messages = await sse.events(3)

        assert [m.id for m in messages] == [str(r.id) for r in recorded]


class TestTypes:
    async def test_types_keeps_the_named_types_and_families_only(
        self, serve: Serve, record: Record, factory: Factory, tenant: Tenant, admin: User
    ) -> None:
        params = {"types": "call.*, agent.state_changed"}
        async with serve() as live, live.stream(headers=factory.headers(admin), params=params) as sse:
            await record(tenant, "dnc.added")
            completed = await record(tenant, "call.completed")
            await record(tenant, "consent.recorded")
            changed = await record(tenant, "agent.state_changed")
            await record(tenant, "campaign.paused")
            blocked = await record(tenant, "call.compliance_blocked")

            messages = await sse.events(3)

        assert [(m.id, m.event) for m in messages] == [
            (str(completed.id), "call.completed"),
            (str(changed.id), "agent.state_changed"),
            (str(blocked.id), "call.compliance_blocked"),
        ]

    async def test_an_agents_stream_with_types_applies_both_filters(
        self, serve: Serve, record: Record, factory: Factory, tenant: Tenant
    ) -> None:
        agent = await factory.user(tenant, Role.agent)
        mine = {"agent_id": str(agent.id)}
        async with serve() as live, live.stream(headers=factory.headers(agent), params={"types": "call.*"}) as sse:
            await record(tenant, "agent.state_changed", mine)
            await record(tenant, "call.completed", {"agent_id": str(uuid.uuid4())})
            wanted = await record(tenant, "call.completed", mine)

            [message] = await sse.events(1)

        assert message.id == str(wanted.id)
