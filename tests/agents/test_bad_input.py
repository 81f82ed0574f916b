"""Bad input on both state-changing routes: a 400 problem naming the field (a 422 for a body carrying
`tenant_id`, the house rule of core.errors), and nothing written: no state row, no event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Db

BAD_BODIES = [
    pytest.param({}, "state", id="missing-state"),
    pytest.param({"state": "asleep"}, "state", id="unknown-state"),
    pytest.param({"state": "on_call"}, "state", id="on-call-is-set-by-the-dialer"),
    pytest.param({"state": "wrap_up"}, "state", id="wrap-up-is-set-by-the-dialer"),
    pytest.param({"state": "reserved"}, "state", id="reserved-is-set-by-the-dialer"),
    pytest.param({"state": "BREAK"}, "state", id="state-is-case-sensitive"),
    pytest.param({"state": None}, "state", id="null-state"),
    pytest.param({"state": 1}, "state", id="state-not-a-string"),
    pytest.param({"state": "break", "reason": 5}, "reason", id="reason-not-a-string"),
    pytest.param({"state": "break", "reason": "x" * 501}, "reason", id="overlong-reason"),
    pytest.param({"state": "break", "mood": "tired"}, "mood", id="extra-field"),
    pytest.param({"state": "break", "agent_id": "01919a1b-c2d3-7e4f-8a5b-6c7d8e9f0a1b"}, "agent_id", id="agent-id"),
]

MALFORMED_BODIES = [
    pytest.param(b'{"state": ', id="truncated-json"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b'["break"]', id="array"),
    pytest.param(b"null", id="null"),
]

JSON = {"Content-Type": "application/json"}


@pytest.fixture(params=["me", "by-id"])
async def route(
    request: pytest.FixtureRequest, factory: Factory, agent: User, supervisor: User
) -> tuple[str, dict[str, str]]:
    """Each case runs against POST /v1/agents/me/state (as the agent) and /v1/agents/{id}/state (as a supervisor)."""
    if request.param == "me":
        return "/v1/agents/me/state", factory.headers(agent)
    return f"/v1/agents/{agent.id}/state", factory.headers(supervisor)


class TestStateChangeInput:
    @pytest.mark.parametrize(("body", "field"), BAD_BODIES)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        db: Db,
        route: tuple[str, dict[str, str]],
        body: dict[str, Any],
        field: str,
    ) -> None:
        path, headers = route

        response = await client.post(path, headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert field in error_fields(problem)
        assert await db.states(tenant.id) == []
        assert await db.events(tenant.id) == []

    @pytest.mark.parametrize("content", MALFORMED_BODIES)
    async def test_malformed_or_non_object_json_is_400_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, db: Db, route: tuple[str, dict[str, str]], content: bytes
    ) -> None:
        path, headers = route

        response = await client.post(path, headers=headers | JSON, content=content)

        assert_problem(response, 400, "malformed-json")
        assert await db.states(tenant.id) == []
        assert await db.events(tenant.id) == []

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        db: Db,
        route: tuple[str, dict[str, str]],
    ) -> None:
        path, headers = route

        response = await client.post(path, headers=headers, json={"state": "break", "tenant_id": str(other_tenant.id)})

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.states(tenant.id) == []
        assert await db.events(tenant.id) == []
        assert await db.events(other_tenant.id) == []


class TestOtherMethods:
    async def test_get_on_a_state_change_route_is_405(
        self, client: httpx.AsyncClient, factory: Factory, supervisor: User, agent: User
    ) -> None:
        response = await client.get(f"/v1/agents/{agent.id}/state", headers=factory.headers(supervisor))

        assert_problem(response, 405, "method-not-allowed")
        assert response.headers["allow"] == "POST"
