"""POST /v1/agents/{id}/state: a supervisor or admin changes an agent's availability (DESIGN.md §2), and the
`agent.state_changed` event every change writes (issue 3 point 4)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from structlog.testing import capture_logs

from engage.agents.schemas import SettableStatus
from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Db

BODY = {"state": "training", "reason": "Product refresher"}


class TestSupervisorSetsState:
    @pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
    async def test_a_supervisor_or_admin_changes_an_agents_state(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        agent: User,
        db: Db,
        clock: ManualClock,
        role: Role,
    ) -> None:
        caller = await factory.user(tenant, role)

        response = await client.post(f"/v1/agents/{agent.id}/state", headers=factory.headers(caller), json=BODY)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "agent_id": str(agent.id),
            "state": "training",
            "state_since": clock.now().isoformat().replace("+00:00", "Z"),
            "reason": "Product refresher",
        }
        stored = await db.state(tenant.id, agent.id)
        assert stored is not None
        assert (stored.state, stored.reason) == ("training", "Product refresher")

    async def test_an_agent_cannot_change_another_agents_state(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User, db: Db
    ) -> None:
        colleague = await factory.user(tenant, Role.agent, full_name="Omar Khalil")

        response = await client.post(f"/v1/agents/{agent.id}/state", headers=factory.headers(colleague), json=BODY)

        assert_problem(response, 403, "forbidden")
        assert await db.states(tenant.id) == []
        assert await db.events(tenant.id) == []

    async def test_an_agent_cannot_use_the_supervisor_route_even_for_itself(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User, db: Db
    ) -> None:
        response = await client.post(f"/v1/agents/{agent.id}/state", headers=factory.headers(agent), json=BODY)

        assert_problem(response, 403, "forbidden")
        assert await db.states(tenant.id) == []

    async def test_another_tenants_agent_is_404_and_untouched(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        supervisor: User,
        other_tenant: Tenant,
        other_agent: User,
        db: Db,
    ) -> None:
        response = await client.post(
            f"/v1/agents/{other_agent.id}/state", headers=factory.headers(supervisor), json=BODY
        )

        assert_problem(response, 404, "agent-not-found")
        assert await db.state(other_tenant.id, other_agent.id) is None
        assert await db.events(other_tenant.id) == []

    @pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
    async def test_a_user_who_is_not_an_agent_is_404(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, supervisor: User, db: Db, role: Role
    ) -> None:
        target = await factory.user(tenant, role)

        response = await client.post(f"/v1/agents/{target.id}/state", headers=factory.headers(supervisor), json=BODY)

        assert_problem(response, 404, "agent-not-found")
        assert await db.states(tenant.id) == []
        assert await db.events(tenant.id) == []

    async def test_a_deactivated_agent_is_404(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, supervisor: User, agent: User, db: Db
    ) -> None:
        await db.deactivate(agent)

        response = await client.post(f"/v1/agents/{agent.id}/state", headers=factory.headers(supervisor), json=BODY)

        assert_problem(response, 404, "agent-not-found")
        assert await db.state(tenant.id, agent.id) is None

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, factory: Factory, supervisor: User) -> None:
        response = await client.post(f"/v1/agents/{uuid.uuid4()}/state", headers=factory.headers(supervisor), json=BODY)

        assert_problem(response, 404, "agent-not-found")

    async def test_a_malformed_id_is_400(self, client: httpx.AsyncClient, factory: Factory, supervisor: User) -> None:
        response = await client.post("/v1/agents/not-a-uuid/state", headers=factory.headers(supervisor), json=BODY)

        assert_problem(response, 400, "validation-error")


class TestStateChangedEvent:
    async def test_a_change_writes_one_event_with_the_full_payload(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        supervisor: User,
        agent: User,
        db: Db,
        clock: ManualClock,
    ) -> None:
        await db.set_state(agent, SettableStatus.available)
        clock.advance(300)

        await client.post(
            f"/v1/agents/{agent.id}/state",
            headers=factory.headers(supervisor),
            json={"state": "break", "reason": "Coaching"},
        )

        events = await db.events(tenant.id)
        assert len(events) == 2
        event = events[-1]
        assert event.tenant_id == tenant.id
        assert event.correlation_id == agent.id
        assert event.occurred_at == clock.now()
        assert event.payload == {
            "agent_id": str(agent.id),
            "full_name": "Layla Ahmed",
            "previous_state": "available",
            "state": "break",
            "reason": "Coaching",
            "state_since": clock.now().isoformat().replace("+00:00", "Z"),
            "changed_by": str(supervisor.id),
        }

    async def test_the_first_change_of_a_new_agent_names_offline_as_the_previous_state(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User, db: Db
    ) -> None:
        await client.post("/v1/agents/me/state", headers=factory.headers(agent), json={"state": "available"})

        [event] = await db.events(tenant.id)
        assert event.payload["previous_state"] == "offline"
        assert event.payload["changed_by"] == str(agent.id)

    async def test_events_stay_in_the_agents_tenant(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        agent: User,
        other_tenant: Tenant,
        db: Db,
    ) -> None:
        await client.post("/v1/agents/me/state", headers=factory.headers(agent), json={"state": "available"})

        assert len(await db.events(tenant.id)) == 1
        assert await db.events(other_tenant.id) == []


class TestConcurrency:
    async def test_two_simultaneous_first_changes_both_succeed_and_chain_their_events(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, supervisor: User, agent: User, db: Db
    ) -> None:
        # Neither request finds a row: without the insert-then-lock both would insert and one would 500.
        own, managed = await asyncio.gather(
            client.post("/v1/agents/me/state", headers=factory.headers(agent), json={"state": "available"}),
            client.post(f"/v1/agents/{agent.id}/state", headers=factory.headers(supervisor), json={"state": "lunch"}),
        )

        assert (own.status_code, managed.status_code) == (200, 200), (own.text, managed.text)
        first, second = await db.events(tenant.id)
        assert first.payload["previous_state"] == "offline"
        assert second.payload["previous_state"] == first.payload["state"]
        stored = await db.state(tenant.id, agent.id)
        assert stored is not None
        assert stored.state == second.payload["state"]


class TestLogs:
    async def test_a_change_is_logged_structured_without_the_free_text_reason(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User
    ) -> None:
        with capture_logs() as logs:
            await client.post(
                "/v1/agents/me/state",
                headers=factory.headers(agent),
                json={"state": "break", "reason": "call back +971501234567"},
            )

        [entry] = [log for log in logs if log["event"] == "agents.state_changed"]
        assert entry["tenant_id"] == str(tenant.id)
        assert entry["agent_id"] == str(agent.id)
        assert (entry["previous_state"], entry["state"]) == ("offline", "break")
        assert "reason" not in entry
        assert "971501234567" not in repr(logs)
