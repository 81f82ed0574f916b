"""Roles: agents may use none of /v1/users and /v1/teams, supervisors may list teams, admins may do
everything; a refusal is a 403 problem, and every such route checks through `core.deps` (`require`, or
`scoped`/`reading`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute

from engage.config import Settings
from engage.core.db import tenant_transaction
from engage.core.deps import permission_of
from engage.core.principal import Permission, Role
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.tenancy.models import Tenant
from engage.users.models import Team, User

from ..factories import Factory
from ..problems import assert_problem

# (method, path template, the permission it needs); `{user_id}` is filled with an agent of the tenant.
ROUTES = [
    ("GET", "/v1/users", Permission.users_read),
    ("GET", "/v1/users/{user_id}", Permission.users_read),
    ("POST", "/v1/users", Permission.users_write),
    ("PATCH", "/v1/users/{user_id}", Permission.users_write),
    ("GET", "/v1/teams", Permission.teams_read),
    ("POST", "/v1/teams", Permission.teams_write),
]

# The seed's roles and what each may do here (DESIGN.md §2).
ALLOWED = {
    Role.agent: set[Permission](),
    Role.supervisor: {Permission.teams_read},
    Role.admin: set(Permission),
}


def body_for(method: str, path: str) -> dict[str, Any] | None:
    if method == "POST" and path == "/v1/users":
        return {
            "email": f"new-{uuid.uuid4().hex[:10]}@acme.test",
            "password": "a long enough secret",
            "full_name": "Sara Khan",
            "role": "agent",
        }
    if method == "PATCH":
        return {"full_name": "Renamed Agent"}
    if method == "POST" and path == "/v1/teams":
        return {"name": f"Team {uuid.uuid4().hex[:6]}"}
    return None


async def call(
    client: httpx.AsyncClient, method: str, path: str, user_id: uuid.UUID, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(method, path.format(user_id=user_id), json=body_for(method, path), headers=headers)


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every endpoint, looking into included routers (FastAPI keeps those as one entry each)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


MATRIX = [
    pytest.param(role, method, path, permission, id=f"{role.value} {method} {path}")
    for role in Role
    for method, path, permission in ROUTES
]


class TestPermissions:
    @pytest.mark.parametrize(("role", "method", "path", "permission"), MATRIX)
    async def test_each_role_reaches_exactly_the_routes_its_permissions_allow(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        agent: User,
        role: Role,
        method: str,
        path: str,
        permission: Permission,
    ) -> None:
        caller = await factory.user(tenant, role)

        response = await call(client, method, path, agent.id, factory.headers(caller))

        if permission in ALLOWED[role]:
            assert response.status_code in (200, 201), response.text
        else:
            body = assert_problem(response, 403, "forbidden")
            assert body["detail"] == f"Your role ({role.value}) does not allow {permission.value}."

    async def test_agent_listing_users_gets_a_403_problem(
        self, client: httpx.AsyncClient, factory: Factory, agent: User
    ) -> None:
        response = await client.get("/v1/users", headers=factory.headers(agent))

        body = assert_problem(response, 403, "forbidden")
        assert body["detail"] == "Your role (agent) does not allow users:read."

    async def test_supervisor_lists_teams_but_cannot_create_one(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant
    ) -> None:
        supervisor = await factory.user(tenant, Role.supervisor)
        team_id = await factory.team(tenant, "Renewals")
        headers = factory.headers(supervisor)

        listed = await client.get("/v1/teams", headers=headers)
        created = await client.post("/v1/teams", json={"name": "Collections"}, headers=headers)

        assert listed.status_code == 200
        assert [team["id"] for team in listed.json()["items"]] == [str(team_id)]
        assert_problem(created, 403, "forbidden")
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            names = set((await session.scalars(select(Team.name))).all())
        assert names == {"Renewals"}

    async def test_supervisor_cannot_list_users(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant
    ) -> None:
        supervisor = await factory.user(tenant, Role.supervisor)

        response = await client.get("/v1/users", headers=factory.headers(supervisor))

        assert_problem(response, 403, "forbidden")

    async def test_forbidden_change_is_not_applied(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant, agent: User
    ) -> None:
        supervisor = await factory.user(tenant, Role.supervisor)

        response = await client.patch(
            f"/v1/users/{agent.id}", json={"role": "admin"}, headers=factory.headers(supervisor)
        )

        assert_problem(response, 403, "forbidden")
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            stored = await session.get(User, agent.id)
        assert stored is not None
        assert stored.role == "agent"

    async def test_missing_token_is_a_401_before_any_permission_check(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/users")

        assert_problem(response, 401, "unauthorized")

    def test_every_v1_route_outside_auth_checks_a_permission(self, settings: Settings, runtime: Runtime) -> None:
        """Through `require`, or `scoped`/`reading` (the same check folded into one dependency)."""
        app = create_app(settings, runtime=runtime)

        every = {
            (method.upper(), path)
            for path, operations in app.openapi()["paths"].items()
            if path.startswith("/v1/") and not path.startswith("/v1/auth/")
            for method in operations
        }
        guarded = {
            (method, route.path)
            for route in api_routes(app.routes)
            for method in route.methods or ()
            if any(
                dependency.call is not None and permission_of(dependency.call) is not None
                for dependency in route.dependant.dependencies
            )
        }

        assert guarded == every
        assert {(method, path) for method, path, _ in ROUTES} <= every
