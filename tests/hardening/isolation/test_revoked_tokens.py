"""A token outlives the facts behind it: every /v1 route (sign-in aside) refuses with the 401 problem a token whose
user was deactivated, and a token whose tenant no longer exists, whatever the route's family and the user's role.
tests/auth/test_token_standing.py proves the standing check on one route; this runs it over all of them.

Engage has no way to delete or suspend a tenant (no command, no endpoint, no status column): the deleted tenant here
is what an operator's manual removal would leave, every row of the tenant gone, done as the database owner."""

from __future__ import annotations

import dataclasses
import uuid

import asyncpg
import httpx

from engage.config import Settings
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.users.standing import StandingCache

from ...conftest import ClientFor
from ...factories import Factory
from ...problems import assert_problem
from .routes import KINDS, collection_app, operations
from .world import tenant_tables

OPERATIONS = operations(collection_app())


async def _refused_everywhere(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    """Every operation called with these headers (ids that name nothing, no body); those not answered 401."""
    let_in = []
    for operation in OPERATIONS:
        url = operation.url({name: KINDS[name].missing() for name in operation.parameters})
        response = await client.request(operation.method, url, headers=headers)
        if response.status_code != 401:
            let_in.append(f"{operation}: {response.status_code}")
        else:
            assert_problem(response, 401, "unauthorized")
    return let_in


def test_every_family_is_covered() -> None:
    """One router per first path segment; each has routes in the list the tests call."""
    families = {operation.path.split("/")[2] for operation in OPERATIONS}

    assert families >= {
        "agents", "auth", "calls", "campaigns", "cli-groups", "compliance", "consents", "contacts", "dnc", "events",
        "recordings", "reports", "teams", "users", "webhooks",
    }  # fmt: skip


async def test_a_token_of_a_deactivated_user_is_refused_on_every_route(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant(name="Initech")
    admin = await factory.user(tenant, Role.admin)
    users = {role: await factory.user(tenant, role) for role in Role}
    stream_tokens = {}
    for role, user in users.items():
        issued = await client.post("/v1/events/stream-token", headers=factory.headers(user))
        assert issued.status_code == 200, issued.text
        stream_tokens[role] = issued.json()["token"]

    for user in users.values():
        deactivated = await client.patch(
            f"/v1/users/{user.id}", json={"is_active": False}, headers=factory.headers(admin)
        )
        assert deactivated.status_code == 200, deactivated.text

    for role, user in users.items():
        assert await _refused_everywhere(client, factory.headers(user)) == [], role
        # The stream's own credential, issued while the user stood, is refused too.
        streamed = await client.get("/v1/events/stream", params={"token": stream_tokens[role]})
        assert_problem(streamed, 401, "unauthorized")


async def _delete_tenant(owner: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    """Every row of the tenant, then the tenant: tables in whatever order their foreign keys allow."""
    remaining = await tenant_tables(owner)
    for _ in range(len(remaining) + 1):
        blocked = []
        for table in remaining:
            try:
                async with owner.transaction():
                    statement = f'DELETE FROM "{table}" WHERE tenant_id = $1'  # noqa: S608 - a catalogue name
                    await owner.execute(statement, tenant_id)
            except asyncpg.ForeignKeyViolationError:
                blocked.append(table)
        remaining = blocked
        if not remaining:
            break
    assert remaining == [], f"rows of the tenant could not be deleted from {remaining}"
    assert await owner.execute("DELETE FROM tenants WHERE id = $1", tenant_id) == "DELETE 1"


async def test_a_token_of_a_deleted_tenant_is_refused_on_every_route(
    settings: Settings, runtime: Runtime, client_for: ClientFor, owner: asyncpg.Connection, factory: Factory
) -> None:
    tenant = await factory.tenant(name="Vandelay")
    users = {role: await factory.user(tenant, role, full_name="Art Vandelay") for role in Role}
    # No standing cached across the deletion: done behind the app's back, it forgets nothing (another API process
    # would see it within the cache's TTL, as tests/auth/test_token_standing.py shows for a deactivation).
    uncached = dataclasses.replace(runtime, access=StandingCache(runtime.sessions, ttl_seconds=0))
    async with client_for(create_app(settings, runtime=uncached)) as client:
        for user in users.values():
            assert (await client.get("/v1/auth/me", headers=factory.headers(user))).status_code == 200

        await _delete_tenant(owner, tenant.id)

        for role, user in users.items():
            assert await _refused_everywhere(client, factory.headers(user)) == [], role


async def test_a_token_naming_a_user_under_another_tenant_is_refused_on_every_route(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime
) -> None:
    """Signed claims pairing one tenant's user with another tenant: the standing check reads the user within the
    token's tenant, finds none, and refuses."""
    theirs = await factory.tenant(name="Acme")
    ours = await factory.tenant(name="Globex")
    user = await factory.user(theirs, Role.admin)
    token = runtime.tokens.issue(user_id=user.id, tenant_id=ours.id, role=user.role, now=runtime.clock.now())

    assert await _refused_everywhere(client, {"Authorization": f"Bearer {token}"}) == []
