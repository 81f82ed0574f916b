"""GET /v1/agents/state: the live board of a tenant's agents and its summary counts (seed "Agents")."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx

from engage.agents.schemas import AgentBoard, AgentStatus, SettableStatus
from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Db, make_agents, sip_user

AGENT_FIELDS = {
    "id",
    "full_name",
    "state",
    "state_since",
    "sip_registered",
    "current_call_id",
    "calls_today",
    "talk_time_today_seconds",
}
SUMMARY_KEYS = {"total"} | {status.value for status in AgentStatus}


class TestBoard:
    async def test_an_agent_who_never_chose_a_state_is_offline_since_its_creation(
        self, client: httpx.AsyncClient, factory: Factory, supervisor: User, agent: User
    ) -> None:
        response = await client.get("/v1/agents/state", headers=factory.headers(supervisor))

        assert response.status_code == 200, response.text
        body = response.json()
        # Written as plain values, the body is exactly what the documented model would write.
        assert AgentBoard.model_validate(body).model_dump(mode="json") == body
        assert set(body) == {"agents", "summary"}
        [entry] = body["agents"]
        assert set(entry) == AGENT_FIELDS
        assert entry == {
            "id": str(agent.id),
            "full_name": "Layla Ahmed",
            "state": "offline",
            "state_since": agent.created_at.isoformat().replace("+00:00", "Z"),
            "sip_registered": False,
            "current_call_id": None,
            "calls_today": 0,
            "talk_time_today_seconds": 0,
        }

    async def test_a_logged_in_agent_shows_its_state_and_since_when(
        self, client: httpx.AsyncClient, factory: Factory, supervisor: User, agent: User, db: Db, clock: ManualClock
    ) -> None:
        clock.advance(90)
        since = await db.set_state(agent, SettableStatus.available)

        response = await client.get("/v1/agents/state", headers=factory.headers(supervisor))

        [entry] = response.json()["agents"]
        assert entry["state"] == "available"
        assert datetime.fromisoformat(entry["state_since"]) == since == clock.now()

    async def test_sip_registered_is_what_the_switch_last_said_about_the_agents_sip_user(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, supervisor: User, db: Db, clock: ManualClock
    ) -> None:
        up, down, silent = sip_user("up"), sip_user("down"), sip_user("silent")
        registered = await factory.user(tenant, Role.agent, full_name="Amal", sip_user=up)
        unregistered = await factory.user(tenant, Role.agent, full_name="Bilal", sip_user=down)
        never_seen = await factory.user(tenant, Role.agent, full_name="Dana", sip_user=silent)
        without_sip_user = await factory.user(tenant, Role.agent, full_name="Fadi")
        await db.register(up, at=clock.now())
        await db.register(down, registered=False, at=clock.now())
        # Offline or not, only the switch's word counts (a softphone may stay registered during a break).
        await db.set_state(unregistered, SettableStatus.available)

        response = await client.get("/v1/agents/state", headers=factory.headers(supervisor))

        shown = {entry["id"]: entry["sip_registered"] for entry in response.json()["agents"]}
        assert shown == {
            str(registered.id): True,
            str(unregistered.id): False,
            str(never_seen.id): False,
            str(without_sip_user.id): False,
        }

    async def test_another_tenants_sip_users_registration_is_not_an_agents_without_one(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        supervisor: User,
        agent: User,
        other_tenant: Tenant,
        db: Db,
        clock: ManualClock,
    ) -> None:
        theirs = sip_user("theirs")
        await factory.user(other_tenant, Role.agent, sip_user=theirs)
        await db.register(theirs, at=clock.now())

        response = await client.get("/v1/agents/state", headers=factory.headers(supervisor))

        assert [entry["sip_registered"] for entry in response.json()["agents"]] == [False]

    async def test_the_summary_counts_every_state_including_zeros(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, supervisor: User, db: Db
    ) -> None:
        a, b, c, d, _e = await make_agents(factory, tenant, "Amal", "Bilal", "Dana", "Fadi", "Hana")
        await db.set_state(a, SettableStatus.available)
        await db.set_state(b, SettableStatus.available)
        await db.set_state(c, SettableStatus.break_)
        await db.set_state(d, SettableStatus.lunch)

        response = await client.get("/v1/agents/state", headers=factory.headers(supervisor))

        summary = response.json()["summary"]
        assert set(summary) == SUMMARY_KEYS
        assert summary == {
            "total": 5,
            "offline": 1,
            "available": 2,
            "reserved": 0,
            "on_call": 0,
            "wrap_up": 0,
            "break": 1,
            "lunch": 1,
            "training": 0,
        }

    async def test_only_active_agents_are_listed_sorted_by_name(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, supervisor: User, admin: User, db: Db
    ) -> None:
        # The supervisor and the admin exist too: users of other roles are never on the board.
        zaid, amal, gone = await make_agents(factory, tenant, "Zaid", "Amal", "Gone Agent")
        await db.deactivate(gone)

        response = await client.get("/v1/agents/state", headers=factory.headers(supervisor))

        assert [entry["id"] for entry in response.json()["agents"]] == [str(amal.id), str(zaid.id)]
        assert response.json()["summary"]["total"] == 2

    async def test_another_tenants_agents_are_not_listed(
        self, client: httpx.AsyncClient, factory: Factory, supervisor: User, agent: User, other_agent: User, db: Db
    ) -> None:
        await db.set_state(other_agent, SettableStatus.available)

        response = await client.get("/v1/agents/state", headers=factory.headers(supervisor))

        assert [entry["id"] for entry in response.json()["agents"]] == [str(agent.id)]
        assert response.json()["summary"]["available"] == 0

    async def test_team_id_filters_the_list_and_the_summary(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, supervisor: User, db: Db
    ) -> None:
        team = await factory.team(tenant, "Renewals")
        [in_team] = await make_agents(factory, tenant, "Amal", team_id=team)
        [elsewhere] = await make_agents(factory, tenant, "Bilal")
        await db.set_state(elsewhere, SettableStatus.available)

        response = await client.get(f"/v1/agents/state?team_id={team}", headers=factory.headers(supervisor))

        assert [entry["id"] for entry in response.json()["agents"]] == [str(in_team.id)]
        assert response.json()["summary"]["total"] == 1
        assert response.json()["summary"]["offline"] == 1
        assert response.json()["summary"]["available"] == 0

    async def test_an_unknown_team_is_an_empty_board(
        self, client: httpx.AsyncClient, factory: Factory, supervisor: User, agent: User
    ) -> None:
        response = await client.get(f"/v1/agents/state?team_id={uuid.uuid4()}", headers=factory.headers(supervisor))

        assert response.status_code == 200
        assert response.json()["agents"] == []
        assert response.json()["summary"]["total"] == 0

    async def test_a_malformed_team_id_is_400(
        self, client: httpx.AsyncClient, factory: Factory, supervisor: User
    ) -> None:
        response = await client.get("/v1/agents/state?team_id=abc", headers=factory.headers(supervisor))

        assert_problem(response, 400, "validation-error")

    async def test_admins_may_read_the_board(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, agent: User
    ) -> None:
        response = await client.get("/v1/agents/state", headers=factory.headers(admin))

        assert response.status_code == 200
        assert response.json()["summary"]["total"] == 1

    async def test_agents_may_not_read_the_board(
        self, client: httpx.AsyncClient, factory: Factory, agent: User
    ) -> None:
        response = await client.get("/v1/agents/state", headers=factory.headers(agent))

        assert_problem(response, 403, "forbidden")

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/agents/state")

        assert_problem(response, 401, "unauthorized")


async def test_an_empty_floor_is_an_empty_board_with_zero_counts(
    client: httpx.AsyncClient, factory: Factory, supervisor: User
) -> None:
    response = await client.get("/v1/agents/state", headers=factory.headers(supervisor))

    assert response.json() == {"agents": [], "summary": dict.fromkeys(SUMMARY_KEYS, 0)}
