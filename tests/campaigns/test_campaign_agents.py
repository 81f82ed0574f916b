"""/v1/campaigns/{id}/agents: assign active agents of the tenant (idempotently) and list them (DESIGN.md §2,
issue 3 point 3)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from engage.core.clock import ManualClock, isoformat_z
from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Builder, Db

AGENT_FIELDS = {"id", "full_name", "email", "assigned_at"}


class TestAssignAgents:
    async def test_agents_of_the_tenant_are_assigned_and_returned_with_when(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
    ) -> None:
        campaign = await build.campaign(tenant)
        layla = await build.agent(tenant, full_name="Layla Ahmed")
        omar = await build.agent(tenant, full_name="Omar Haddad")

        response = await client.post(
            f"/v1/campaigns/{campaign}/agents", headers=headers, json={"agent_ids": [str(layla.id), str(omar.id)]}
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["added"], body["already_assigned"]) == (2, 0)
        assert body["items"] == [
            {"id": str(a.id), "full_name": a.full_name, "email": a.email, "assigned_at": isoformat_z(clock.now())}
            for a in (omar, layla)
        ]
        assert await db.assigned(tenant.id, campaign) == {layla.id, omar.id}

    async def test_assigning_again_is_idempotent_and_keeps_the_first_assigned_at(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
    ) -> None:
        campaign = await build.campaign(tenant)
        first = await build.agent(tenant, campaign)
        assigned_at = clock.now()
        clock.advance(600)
        second = await build.agent(tenant)

        response = await client.post(
            f"/v1/campaigns/{campaign}/agents",
            headers=headers,
            json={"agent_ids": [str(first.id), str(second.id), str(first.id)]},
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["added"], body["already_assigned"]) == (1, 1)
        when = {item["id"]: item["assigned_at"] for item in body["items"]}
        assert when == {str(first.id): isoformat_z(assigned_at), str(second.id): isoformat_z(clock.now())}
        assert await db.assigned(tenant.id, campaign) == {first.id, second.id}

    @pytest.mark.parametrize("kind", ["supervisor", "admin", "inactive-agent", "other-tenants-agent", "unknown-id"])
    async def test_anyone_but_an_active_agent_of_the_tenant_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
        kind: str,
    ) -> None:
        campaign = await build.campaign(tenant)
        good = await build.agent(tenant)
        if kind == "supervisor":
            bad = (await factory.user(tenant, Role.supervisor)).id
        elif kind == "admin":
            bad = (await factory.user(tenant, Role.admin)).id
        elif kind == "inactive-agent":
            bad = (await build.agent(tenant)).id
            await client.patch(f"/v1/users/{bad}", headers=headers, json={"is_active": False})
        elif kind == "other-tenants-agent":
            bad = (await build.agent(other_tenant)).id
        else:
            bad = uuid.uuid4()

        response = await client.post(
            f"/v1/campaigns/{campaign}/agents", headers=headers, json={"agent_ids": [str(good.id), str(bad)]}
        )

        body = assert_problem(response, 422, "unknown-agents")
        assert body["agent_ids"] == [str(bad)]
        assert str(bad) in body["detail"]
        assert await db.assigned(tenant.id, campaign) == set()

    async def test_another_tenants_campaign_is_404_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
    ) -> None:
        theirs = await build.campaign(other_tenant)
        mine = await build.agent(tenant)

        response = await client.post(
            f"/v1/campaigns/{theirs}/agents", headers=headers, json={"agent_ids": [str(mine.id)]}
        )

        assert_problem(response, 404, "campaign-not-found")
        assert await db.assigned(other_tenant.id, theirs) == set()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({}, "agent_ids", id="missing"),
            pytest.param({"agent_ids": []}, "agent_ids", id="empty"),
            pytest.param({"agent_ids": ["not-a-uuid"]}, "agent_ids.0", id="not-a-uuid"),
            pytest.param({"agent_ids": "abc"}, "agent_ids", id="not-a-list"),
            pytest.param({"agent_ids": [str(uuid.uuid4())] * 501}, "agent_ids", id="too-many"),
            pytest.param({"agent_ids": [str(uuid.uuid4())], "role": "x"}, "role", id="extra-field"),
        ],
    )
    async def test_a_bad_body_is_400_naming_the_field_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
        body: dict[str, object],
        field: str,
    ) -> None:
        campaign = await build.campaign(tenant)

        response = await client.post(f"/v1/campaigns/{campaign}/agents", headers=headers, json=body)

        assert field in error_fields(assert_problem(response, 400, "validation-error"))
        assert await db.assigned(tenant.id, campaign) == set()

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
    ) -> None:
        campaign = await build.campaign(tenant)
        agent = await build.agent(tenant)

        response = await client.post(
            f"/v1/campaigns/{campaign}/agents",
            headers=headers,
            json={"agent_ids": [str(agent.id)], "tenant_id": str(other_tenant.id)},
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.assigned(tenant.id, campaign) == set()

    async def test_an_agent_may_not_assign_agents(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, build: Builder, db: Db
    ) -> None:
        campaign = await build.campaign(tenant)
        agent = await factory.user(tenant, Role.agent)

        response = await client.post(
            f"/v1/campaigns/{campaign}/agents", headers=factory.headers(agent), json={"agent_ids": [str(agent.id)]}
        )

        assert_problem(response, 403, "forbidden")
        assert await db.assigned(tenant.id, campaign) == set()


class TestListAgents:
    async def test_lists_the_campaigns_agents_in_pages(
        self, client: httpx.AsyncClient, tenant: Tenant, supervisor_headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)
        agents = [await build.agent(tenant, campaign, full_name=f"Agent {n}") for n in range(3)]
        await build.agent(tenant, await build.campaign(tenant))  # on another campaign

        first = (
            await client.get(f"/v1/campaigns/{campaign}/agents", headers=supervisor_headers, params={"limit": 2})
        ).json()
        second = (
            await client.get(
                f"/v1/campaigns/{campaign}/agents",
                headers=supervisor_headers,
                params={"limit": 2, "cursor": first["next_cursor"]},
            )
        ).json()

        assert [i["id"] for i in first["items"]] == [str(agents[2].id), str(agents[1].id)]
        assert all(set(item) == AGENT_FIELDS for item in first["items"])
        assert (first["total"], first["has_more"]) == (3, True)
        assert [(i["id"], i["full_name"], i["email"]) for i in second["items"]] == [
            (str(agents[0].id), "Agent 0", agents[0].email)
        ]
        assert (second["has_more"], second["next_cursor"]) == (False, None)

    async def test_a_campaign_without_agents_lists_nothing(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)

        response = await client.get(f"/v1/campaigns/{campaign}/agents", headers=headers)

        assert response.json() == {"items": [], "total": 0, "next_cursor": None, "has_more": False}

    async def test_another_tenants_campaign_is_404(
        self, client: httpx.AsyncClient, other_tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        theirs = await build.campaign(other_tenant)
        await build.agent(other_tenant, theirs)

        response = await client.get(f"/v1/campaigns/{theirs}/agents", headers=headers)

        assert_problem(response, 404, "campaign-not-found")

    async def test_an_agent_may_not_list_colleagues_with_their_emails(
        self, client: httpx.AsyncClient, tenant: Tenant, agent_headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)

        response = await client.get(f"/v1/campaigns/{campaign}/agents", headers=agent_headers)

        body = assert_problem(response, 403, "forbidden")
        assert body["detail"] == "Your role (agent) does not allow agents:read."
