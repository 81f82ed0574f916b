"""/v1/teams: teams of the caller's tenant; names unique within a tenant (DESIGN.md §2)."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Db


class TestCreateTeam:
    async def test_admin_creates_a_team_and_gets_201_with_it(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], clock: ManualClock, db: Db
    ) -> None:
        response = await client.post("/v1/teams", headers=headers, json={"name": "Renewals — Dubai"})

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {"id", "name", "created_at"}
        assert body["name"] == "Renewals — Dubai"
        assert datetime.fromisoformat(body["created_at"]) == clock.now()
        stored = await db.teams(tenant.id)
        assert [(str(t.id), t.tenant_id, t.name) for t in stored] == [(body["id"], tenant.id, "Renewals — Dubai")]

    async def test_team_name_is_stored_trimmed(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post("/v1/teams", headers=headers, json={"name": "  Sales  "})

        assert response.json()["name"] == "Sales"
        assert [t.name for t in await db.teams(tenant.id)] == ["Sales"]

    async def test_a_name_already_used_in_the_tenant_is_409_and_nothing_is_written(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        existing = await factory.team(tenant, "Sales")

        response = await client.post("/v1/teams", headers=headers, json={"name": " Sales "})

        assert_problem(response, 409, "team-name-taken")
        assert [t.id for t in await db.teams(tenant.id)] == [existing]

    async def test_the_same_name_in_two_tenants_is_allowed(
        self, client: httpx.AsyncClient, factory: Factory, other_tenant: Tenant, headers: dict[str, str]
    ) -> None:
        await factory.team(other_tenant, "Sales")

        response = await client.post("/v1/teams", headers=headers, json={"name": "Sales"})

        assert response.status_code == 201, response.text

    @pytest.mark.parametrize("role", [Role.supervisor, Role.agent])
    async def test_only_an_admin_may_create_teams(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, db: Db, role: Role
    ) -> None:
        caller = await factory.user(tenant, role)

        response = await client.post("/v1/teams", headers=factory.headers(caller), json={"name": "Sales"})

        assert_problem(response, 403, "forbidden")
        assert await db.teams(tenant.id) == []


class TestListTeams:
    async def test_lists_the_teams_of_the_callers_tenant_only_newest_first(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
    ) -> None:
        first = await factory.team(tenant, "First")
        second = await factory.team(tenant, "Second")
        theirs = await factory.team(other_tenant, "Theirs")

        response = await client.get("/v1/teams", headers=headers)

        assert response.status_code == 200
        body = response.json()
        assert [item["id"] for item in body["items"]] == [str(second), str(first)]
        assert str(theirs) not in response.text
        assert (body["total"], body["has_more"], body["next_cursor"]) == (2, False, None)

    async def test_a_supervisor_may_list_teams(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant
    ) -> None:
        team = await factory.team(tenant, "Sales")
        supervisor = await factory.user(tenant, Role.supervisor)

        response = await client.get("/v1/teams", headers=factory.headers(supervisor))

        assert response.status_code == 200
        assert [item["id"] for item in response.json()["items"]] == [str(team)]

    async def test_an_agent_may_not_list_teams(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant
    ) -> None:
        agent = await factory.user(tenant, Role.agent)

        response = await client.get("/v1/teams", headers=factory.headers(agent))

        assert_problem(response, 403, "forbidden")

    async def test_listing_teams_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/teams")

        assert_problem(response, 401, "unauthorized")

    async def test_team_ids_are_uuid_v7(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.post("/v1/teams", headers=headers, json={"name": "Sales"})

        assert uuid.UUID(response.json()["id"]).version == 7
