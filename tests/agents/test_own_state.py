"""POST /v1/agents/me/state: an agent changes its own availability (seed "Agents", issue 3 point 4)."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from engage.agents.schemas import SettableStatus
from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Db

SEED_REQUEST = {"state": "break", "reason": "Short break"}


class TestSetOwnState:
    async def test_the_seed_request_gives_the_seed_response_shape(
        self, client: httpx.AsyncClient, factory: Factory, agent: User, clock: ManualClock
    ) -> None:
        response = await client.post("/v1/agents/me/state", headers=factory.headers(agent), json=SEED_REQUEST)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body == {
            "agent_id": str(agent.id),
            "state": "break",
            "state_since": clock.now().isoformat().replace("+00:00", "Z"),
            "reason": "Short break",
        }

    async def test_the_change_is_stored(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User, db: Db, clock: ManualClock
    ) -> None:
        await client.post("/v1/agents/me/state", headers=factory.headers(agent), json=SEED_REQUEST)

        stored = await db.state(tenant.id, agent.id)
        assert stored is not None
        assert (stored.tenant_id, stored.state, stored.state_since, stored.reason) == (
            tenant.id,
            "break",
            clock.now(),
            "Short break",
        )

    @pytest.mark.parametrize("state", list(SettableStatus))
    async def test_every_state_a_person_may_choose_is_accepted(
        self, client: httpx.AsyncClient, factory: Factory, agent: User, db: Db, state: SettableStatus
    ) -> None:
        # Start from a state other than the requested one, so each case is a real change.
        await db.set_state(
            agent, SettableStatus.lunch if state is not SettableStatus.lunch else SettableStatus.available
        )

        response = await client.post("/v1/agents/me/state", headers=factory.headers(agent), json={"state": state})

        assert response.status_code == 200, response.text
        assert response.json()["state"] == state.value
        assert response.json()["reason"] is None

    async def test_a_new_state_restarts_state_since_and_drops_the_old_reason(
        self, client: httpx.AsyncClient, factory: Factory, agent: User, db: Db, clock: ManualClock
    ) -> None:
        await db.set_state(agent, SettableStatus.break_, "Short break")
        clock.advance(600)

        response = await client.post("/v1/agents/me/state", headers=factory.headers(agent), json={"state": "available"})

        assert datetime.fromisoformat(response.json()["state_since"]) == clock.now()
        assert response.json()["reason"] is None

    async def test_the_same_state_with_a_new_reason_updates_the_reason_and_keeps_state_since(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User, db: Db, clock: ManualClock
    ) -> None:
        since = await db.set_state(agent, SettableStatus.break_, "Short break")
        clock.advance(120)

        response = await client.post(
            "/v1/agents/me/state", headers=factory.headers(agent), json={"state": "break", "reason": "Prayer"}
        )

        assert response.status_code == 200
        assert datetime.fromisoformat(response.json()["state_since"]) == since
        assert response.json()["reason"] == "Prayer"
        events = await db.events(tenant.id)
        assert [(e.payload["previous_state"], e.payload["state"], e.payload["reason"]) for e in events][-1] == (
            "break",
            "break",
            "Prayer",
        )

    async def test_repeating_the_same_state_and_reason_changes_nothing_and_writes_no_event(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User, db: Db, clock: ManualClock
    ) -> None:
        since = await db.set_state(agent, SettableStatus.break_, "Short break")
        clock.advance(60)

        response = await client.post("/v1/agents/me/state", headers=factory.headers(agent), json=SEED_REQUEST)

        assert response.status_code == 200
        assert datetime.fromisoformat(response.json()["state_since"]) == since
        assert len(await db.events(tenant.id)) == 1

    async def test_a_blank_reason_is_stored_as_no_reason(
        self, client: httpx.AsyncClient, factory: Factory, agent: User
    ) -> None:
        response = await client.post(
            "/v1/agents/me/state", headers=factory.headers(agent), json={"state": "lunch", "reason": "   "}
        )

        assert response.json()["reason"] is None

    @pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
    async def test_a_caller_who_is_not_an_agent_is_403_and_nothing_is_written(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, db: Db, role: Role
    ) -> None:
        caller = await factory.user(tenant, role)

        response = await client.post("/v1/agents/me/state", headers=factory.headers(caller), json=SEED_REQUEST)

        assert_problem(response, 403, "not-an-agent")
        assert await db.states(tenant.id) == []
        assert await db.events(tenant.id) == []

    async def test_a_deactivated_agent_with_a_still_unexpired_token_is_401(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User, db: Db
    ) -> None:
        headers = factory.headers(agent)
        await db.deactivate(agent)

        response = await client.post("/v1/agents/me/state", headers=headers, json=SEED_REQUEST)

        # The token no longer applies (tests/auth/test_token_standing.py): refused before the endpoint runs.
        assert_problem(response, 401, "unauthorized")
        assert await db.state(tenant.id, agent.id) is None
        assert await db.events(tenant.id) == []

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/agents/me/state", json=SEED_REQUEST)

        assert_problem(response, 401, "unauthorized")


class TestOnACall:
    """The dialer owns an agent's state while a call lasts: no one changes it then (else the agent would look free
    and be offered a second call); in wrap-up the agent may move on."""

    @pytest.mark.parametrize("held", ["reserved", "on_call"])
    @pytest.mark.parametrize("by", ["self", Role.supervisor, Role.admin])
    async def test_a_status_change_during_a_call_is_409_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        agent: User,
        db: Db,
        held: str,
        by: str | Role,
    ) -> None:
        await db.hold_for_call(agent, held)
        before = await db.state(tenant.id, agent.id)
        events = len(await db.events(tenant.id))
        if by == "self":
            response = await client.post("/v1/agents/me/state", headers=factory.headers(agent), json=SEED_REQUEST)
        else:
            caller = await factory.user(tenant, Role(by))
            response = await client.post(
                f"/v1/agents/{agent.id}/state", headers=factory.headers(caller), json=SEED_REQUEST
            )

        body = assert_problem(response, 409, "agent-on-call")
        assert "once the call ends" in body["detail"]
        after = await db.state(tenant.id, agent.id)
        assert before is not None
        assert after is not None
        assert (after.state, after.state_since, after.current_call_id, after.reason) == (
            held,
            before.state_since,
            before.current_call_id,
            before.reason,
        )
        assert len(await db.events(tenant.id)) == events

    async def test_an_agent_in_wrap_up_may_leave_it(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User, db: Db
    ) -> None:
        await db.hold_for_call(agent, "wrap_up")

        response = await client.post("/v1/agents/me/state", headers=factory.headers(agent), json=SEED_REQUEST)

        assert response.status_code == 200, response.text
        stored = await db.state(tenant.id, agent.id)
        assert stored is not None
        assert (stored.state, stored.reason) == ("break", "Short break")


class TestReadOwnState:
    """GET /v1/agents/me/state: what the agent's desk shows on load."""

    async def test_an_agent_that_never_chose_is_offline_since_its_account_was_made(
        self, client: httpx.AsyncClient, factory: Factory, agent: User
    ) -> None:
        response = await client.get("/v1/agents/me/state", headers=factory.headers(agent))

        assert response.status_code == 200, response.text
        assert response.json() == {
            "agent_id": str(agent.id),
            "state": "offline",
            "state_since": agent.created_at.isoformat().replace("+00:00", "Z"),
            "reason": None,
        }

    async def test_it_reads_back_what_the_agent_set(
        self, client: httpx.AsyncClient, factory: Factory, agent: User
    ) -> None:
        changed = await client.post("/v1/agents/me/state", headers=factory.headers(agent), json=SEED_REQUEST)

        response = await client.get("/v1/agents/me/state", headers=factory.headers(agent))

        assert response.json() == changed.json()

    async def test_each_agent_reads_its_own_state_only(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, agent: User
    ) -> None:
        colleague = await factory.user(tenant, Role.agent)
        stranger = await factory.user(await factory.tenant(name="Other"), Role.agent)
        await client.post("/v1/agents/me/state", headers=factory.headers(agent), json=SEED_REQUEST)

        for other in (colleague, stranger):
            body = (await client.get("/v1/agents/me/state", headers=factory.headers(other))).json()
            assert (body["agent_id"], body["state"]) == (str(other.id), "offline")

    @pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
    async def test_only_agents_have_a_state(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, role: Role
    ) -> None:
        user = await factory.user(tenant, role)

        response = await client.get("/v1/agents/me/state", headers=factory.headers(user))

        assert_problem(response, 403, "not-an-agent")
