"""Roles on /v1/campaigns: agents read campaigns but neither create, edit, run them nor see their roster;
supervisors and admins do everything (core.principal's matrix, issue 3 point 5)."""

from __future__ import annotations

import httpx
import pytest

from engage.campaigns.schemas import CampaignStatus
from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Builder, Db

# (method, path, the permission it needs)
ROUTES = [
    ("GET", "/v1/campaigns", "campaigns:read"),
    ("GET", "/v1/campaigns/{id}", "campaigns:read"),
    ("POST", "/v1/campaigns", "campaigns:write"),
    ("PATCH", "/v1/campaigns/{id}", "campaigns:write"),
    ("POST", "/v1/campaigns/{id}/start", "campaigns:write"),
    ("POST", "/v1/campaigns/{id}/pause", "campaigns:write"),
    ("POST", "/v1/campaigns/{id}/complete", "campaigns:write"),
    ("GET", "/v1/campaigns/{id}/agents", "agents:read"),
    ("POST", "/v1/campaigns/{id}/agents", "campaigns:write"),
]

ALLOWED = {
    Role.agent: {"campaigns:read"},
    Role.supervisor: {"campaigns:read", "campaigns:write", "agents:read"},
    Role.admin: {"campaigns:read", "campaigns:write", "agents:read"},
}

MATRIX = [
    pytest.param(role, method, path, permission, id=f"{role.value} {method} {path}")
    for role in Role
    for method, path, permission in ROUTES
]


class TestCampaignPermissions:
    @pytest.mark.parametrize(("role", "method", "path", "permission"), MATRIX)
    async def test_each_role_reaches_exactly_the_routes_its_permissions_allow(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        build: Builder,
        db: Db,
        role: Role,
        method: str,
        path: str,
        permission: str,
    ) -> None:
        group = await build.cli_group(tenant)
        # Each transition is legal from the state chosen, so an allowed call succeeds.
        status = {"start": CampaignStatus.paused, "pause": CampaignStatus.active, "complete": CampaignStatus.active}
        campaign = await build.campaign(tenant, status.get(path.rsplit("/", 1)[-1], CampaignStatus.draft))
        agent = await build.agent(tenant)
        before = await db.campaign(tenant.id, campaign)
        assigned_before = await db.assigned(tenant.id, campaign)
        body = {
            ("POST", "/v1/campaigns"): {"name": "New", "dialing_mode": "preview", "cli_group_id": str(group)},
            ("PATCH", "/v1/campaigns/{id}"): {"name": "Renamed"},
            ("POST", "/v1/campaigns/{id}/agents"): {"agent_ids": [str(agent.id)]},
        }.get((method, path))
        caller = await factory.user(tenant, role)

        response = await client.request(method, path.format(id=campaign), headers=factory.headers(caller), json=body)

        if permission in ALLOWED[role]:
            assert response.status_code in (200, 201), response.text
        else:
            problem = assert_problem(response, 403, "forbidden")
            assert problem["detail"] == f"Your role ({role.value}) does not allow {permission}."
            after = await db.campaign(tenant.id, campaign)
            assert before is not None
            assert after is not None
            assert (after.name, after.status, after.updated_at) == (before.name, before.status, before.updated_at)
            assert await db.assigned(tenant.id, campaign) == assigned_before

    async def test_an_agent_may_not_create_a_campaign_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, agent_headers: dict[str, str], build: Builder, db: Db
    ) -> None:
        group = await build.cli_group(tenant)

        response = await client.post(
            "/v1/campaigns",
            headers=agent_headers,
            json={"name": "Mine", "dialing_mode": "preview", "cli_group_id": str(group)},
        )

        assert_problem(response, 403, "forbidden")
        assert await db.count_campaigns(tenant.id) == 0

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/campaigns"), 401, "unauthorized")
