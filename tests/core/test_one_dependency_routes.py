"""The routes that take caller, permission, rate limit and transaction as one dependency (`core.deps.scoped`,
`reading`) check exactly what `require` and `SessionDep` check, in the same order: 401, then 429, then 403."""

from __future__ import annotations

import httpx
import pytest

from engage.core.principal import Role

from ..factories import Factory
from ..problems import assert_problem

# (method, path, body): a `reading` route of each domain that has one, and the two `scoped` ones.
ONE_DEPENDENCY_ROUTES = [
    ("GET", "/v1/campaigns", None),
    ("GET", "/v1/agents/state", None),
    ("GET", "/v1/calls", None),
    ("GET", "/v1/calls/active-count", None),
    ("POST", "/v1/contacts/search", {"q": "Ahmed"}),
    ("POST", "/v1/compliance/check", {"phone": "+971501234567"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ONE_DEPENDENCY_ROUTES)
async def test_no_token_or_a_bad_one_is_a_401_with_the_challenge(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await client.request(method, path, headers=headers, json=body)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body"), ONE_DEPENDENCY_ROUTES)
async def test_the_tenants_budget_counts_them_and_refuses_with_a_429(
    client: httpx.AsyncClient, factory: Factory, method: str, path: str, body: dict[str, str] | None
) -> None:
    admin = await factory.user(await factory.tenant(rate_limit_per_minute=2))
    headers = factory.headers(admin)

    statuses = [(await client.request(method, path, headers=headers, json=body)).status_code for _ in range(2)]
    refused = await client.request(method, path, headers=headers, json=body)

    assert statuses == [200, 200]
    assert_problem(refused, 429, "rate-limited")
    assert refused.headers["retry-after"] == "60"


async def test_an_agent_over_budget_gets_the_429_before_the_403(client: httpx.AsyncClient, factory: Factory) -> None:
    agent = await factory.user(await factory.tenant(rate_limit_per_minute=1), Role.agent)
    headers = factory.headers(agent)

    first = await client.get("/v1/agents/state", headers=headers)
    second = await client.get("/v1/agents/state", headers=headers)

    assert_problem(first, 403, "forbidden")
    assert_problem(second, 429, "rate-limited")
