"""An access token stops working at once when the facts behind it change: its user is deactivated, changes role
or has their sessions revoked (a password change). The API process that makes the change forgets its cached
standing when the change commits; another process (here, a second app with its own runtime on the same database)
keeps what it cached for at most the standing TTL, then refuses too."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from engage.config import Settings
from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.users.standing import StandingCache

from ..factories import Factory
from ..problems import assert_problem

NO_LONGER = (
    "The access token no longer applies: its user was deactivated, changed role or had their sessions revoked. "
    "Log in again."
)


async def teams(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/v1/teams", headers=headers)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"is_active": False}, "deactivated"),
        ({"role": "agent"}, "role changed"),
        ({"password": "a-new-and-long-passphrase-1"}, "sessions revoked"),
    ],
)
async def test_a_token_stops_working_on_the_next_request_after_the_change(
    client: httpx.AsyncClient, factory: Factory, clock: ManualClock, change: dict[str, object], what: str
) -> None:
    tenant = await factory.tenant()
    admin = await factory.user(tenant)
    supervisor = await factory.user(tenant, Role.supervisor)
    old = factory.headers(supervisor)
    assert (await teams(client, old)).status_code == 200, what  # cached as standing
    clock.advance(seconds=1)  # the change happens in a later second than the token's `iat`

    changed = await client.patch(f"/v1/users/{supervisor.id}", json=change, headers=factory.headers(admin))
    assert changed.status_code == 200, changed.text

    response = await teams(client, old)
    assert assert_problem(response, 401, "unauthorized")["detail"] == NO_LONGER
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_token_for_a_user_that_does_not_exist_is_refused(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime
) -> None:
    tenant = await factory.tenant()
    admin = await factory.user(tenant)
    token = runtime.tokens.issue(
        user_id=tenant.id, tenant_id=admin.tenant_id, role=admin.role, now=runtime.clock.now()
    )  # a signed token naming an id that is no user of the tenant
    assert (
        assert_problem(await teams(client, {"Authorization": f"Bearer {token}"}), 401, "unauthorized")["detail"]
        == NO_LONGER
    )


async def test_unrelated_changes_leave_the_token_working(
    client: httpx.AsyncClient, factory: Factory, clock: ManualClock
) -> None:
    tenant = await factory.tenant()
    admin = await factory.user(tenant)
    supervisor = await factory.user(tenant, Role.supervisor)
    old = factory.headers(supervisor)
    clock.advance(seconds=1)
    changed = await client.patch(
        f"/v1/users/{supervisor.id}", json={"full_name": "Layla A."}, headers=factory.headers(admin)
    )
    assert changed.status_code == 200, changed.text
    assert (await teams(client, old)).status_code == 200


async def test_another_process_refuses_within_the_standing_ttl(
    client: httpx.AsyncClient,
    factory: Factory,
    clock: ManualClock,
    settings: Settings,
    runtime: Runtime,
    client_for: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    tenant = await factory.tenant()
    admin = await factory.user(tenant)
    agent = await factory.user(tenant, Role.agent)
    old = factory.headers(agent)
    monotonic = FakeMonotonic()
    other = dataclasses.replace(runtime, access=StandingCache(runtime.sessions, ttl_seconds=2.0, monotonic=monotonic))
    async with client_for(create_app(settings, runtime=other)) as elsewhere:
        assert (await elsewhere.get("/v1/campaigns", headers=old)).status_code == 200
        clock.advance(seconds=1)
        changed = await client.patch(f"/v1/users/{agent.id}", json={"is_active": False}, headers=factory.headers(admin))
        assert changed.status_code == 200, changed.text

        # The bound: this process still holds the standing it read, for less than the TTL ...
        monotonic.now += 1.9
        assert (await elsewhere.get("/v1/campaigns", headers=old)).status_code == 200
        # ... and reads it again once the TTL has passed.
        monotonic.now += 0.2
        assert (
            assert_problem(await elsewhere.get("/v1/campaigns", headers=old), 401, "unauthorized")["detail"]
            == NO_LONGER
        )


async def test_a_rolled_back_change_keeps_the_cached_standing(
    client: httpx.AsyncClient, factory: Factory, clock: ManualClock
) -> None:
    """Deactivating yourself is refused (409, nothing committed): the token goes on working."""
    tenant = await factory.tenant()
    admin = await factory.user(tenant)
    headers = factory.headers(admin)
    clock.advance(seconds=1)
    refused = await client.patch(f"/v1/users/{admin.id}", json={"is_active": False}, headers=headers)
    assert refused.status_code == 409
    assert (await teams(client, headers)).status_code == 200
