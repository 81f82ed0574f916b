"""GET /v1/auth/me: the user a token names and its organisation's place, for every role; never another tenant's,
and a token that no longer stands is refused."""

from __future__ import annotations

import httpx
import pytest

from engage.core.clock import ManualClock, isoformat_z
from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem


@pytest.mark.parametrize("role", list(Role))
async def test_me_names_the_tokens_user_and_the_tenants_place(
    client: httpx.AsyncClient, factory: Factory, tenant: Tenant, role: Role, clock: ManualClock
) -> None:
    user = await factory.user(tenant, role=role, full_name="ليلى أحمد")

    response = await client.get("/v1/auth/me", headers=factory.headers(user))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "user": {
            "id": str(user.id),
            "email": user.email,
            "full_name": "ليلى أحمد",
            "role": role.value,
            "tenant_id": str(tenant.id),
        },
        "tenant": {"id": str(tenant.id), "country": tenant.country, "timezone": tenant.timezone},
        "now": isoformat_z(clock.now()),
    }


async def test_me_answers_for_the_tokens_tenant_only(
    client: httpx.AsyncClient, factory: Factory, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await factory.user(tenant, role=Role.admin)
    theirs = await factory.user(other_tenant, role=Role.admin)

    body = (await client.get("/v1/auth/me", headers=factory.headers(theirs))).json()

    assert body["user"]["id"] == str(theirs.id)
    assert body["tenant"]["id"] == str(other_tenant.id)
    assert str(mine.id) not in str(body)


async def test_me_without_a_token_is_a_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/auth/me"), 401, "unauthorized")


async def test_me_with_a_deactivated_users_token_is_a_401(
    client: httpx.AsyncClient, factory: Factory, tenant: Tenant, admin: object, headers: dict[str, str]
) -> None:
    agent = await factory.user(tenant, role=Role.agent)
    agent_headers = factory.headers(agent)
    deactivated = await client.patch(f"/v1/users/{agent.id}", headers=headers, json={"is_active": False})
    assert deactivated.status_code == 200, deactivated.text

    assert_problem(await client.get("/v1/auth/me", headers=agent_headers), 401, "unauthorized")
