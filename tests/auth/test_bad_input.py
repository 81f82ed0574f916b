"""Bad bodies on /v1/auth/*: a 400 problem (a 422 for `tenant_id`) before anything runs, so nothing is
written and no failed login is counted against the email."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engage.core.runtime import Runtime
from engage.users.models import User

from ..factories import PASSWORD
from ..problems import assert_problem
from .conftest import Db, login, login_ok

JSON = {"content-type": "application/json"}


def bad_logins(email: str) -> dict[str, tuple[dict[str, Any], str, set[str]]]:
    """Name → (httpx request arguments, expected problem slug, fields the problem names)."""
    return {
        "empty object": ({"json": {}}, "validation-error", {"email", "password"}),
        "missing password": ({"json": {"email": email}}, "validation-error", {"password"}),
        "missing email": ({"json": {"password": PASSWORD}}, "validation-error", {"email"}),
        "an extra field": (
            {"json": {"email": email, "password": PASSWORD, "remember_me": True}},
            "validation-error",
            {"remember_me"},
        ),
        "email not a string": ({"json": {"email": ["x"], "password": PASSWORD}}, "validation-error", {"email"}),
        "empty password": ({"json": {"email": email, "password": ""}}, "validation-error", {"password"}),
        "password over 1024 characters": (
            {"json": {"email": email, "password": "x" * 1025}},
            "validation-error",
            {"password"},
        ),
        "empty body": ({"content": b"", "headers": JSON}, "validation-error", {"body"}),
        "not JSON": ({"content": b"email=me&password=pw", "headers": JSON}, "malformed-json", set()),
        "truncated JSON": (
            {"content": f'{{"email": "{email}", "pass'.encode(), "headers": JSON},
            "malformed-json",
            set(),
        ),
        "a JSON array": ({"json": [email, PASSWORD]}, "malformed-json", set()),
        "a form post": (
            {"data": {"email": email, "password": PASSWORD}},
            "malformed-json",
            set(),
        ),
    }


CASES = list(bad_logins("x@y.z"))


class TestLoginBadInput:
    @pytest.mark.parametrize("case", CASES)
    async def test_bad_login_body_is_a_400_problem_naming_the_fields(
        self, client: httpx.AsyncClient, agent: User, case: str
    ) -> None:
        arguments, slug, fields = bad_logins(agent.email)[case]

        response = await client.post("/v1/auth/login", **arguments)

        body = assert_problem(response, 400, slug)
        assert {error["field"] for error in body.get("errors", [])} == fields

    @pytest.mark.parametrize("case", CASES)
    async def test_bad_login_body_writes_nothing_and_is_not_counted_as_a_failure(
        self, client: httpx.AsyncClient, runtime: Runtime, db: Db, agent: User, case: str
    ) -> None:
        arguments, _, _ = bad_logins(agent.email)[case]

        for _ in range(runtime.settings.login.max_failures):
            assert (await client.post("/v1/auth/login", **arguments)).status_code == 400

        assert await db.refresh_tokens(agent.tenant_id) == []
        assert (await db.user(agent)).last_login_at is None
        assert (await login(client, agent.email)).status_code == 200

    async def test_login_body_carrying_tenant_id_is_a_422_and_signs_nobody_in(
        self, client: httpx.AsyncClient, runtime: Runtime, db: Db, agent: User
    ) -> None:
        body = {"email": agent.email, "password": PASSWORD, "tenant_id": str(agent.tenant_id)}

        response = await client.post("/v1/auth/login", json=body)

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.refresh_tokens(agent.tenant_id) == []
        assert (await db.user(agent)).last_login_at is None


class TestRefreshAndLogoutBadInput:
    @pytest.mark.parametrize("path", ["/v1/auth/refresh", "/v1/auth/logout"])
    async def test_missing_refresh_token_is_a_400_problem(self, client: httpx.AsyncClient, path: str) -> None:
        response = await client.post(path, json={})

        body = assert_problem(response, 400, "validation-error")
        assert {error["field"] for error in body["errors"]} == {"refresh_token"}

    @pytest.mark.parametrize("path", ["/v1/auth/refresh", "/v1/auth/logout"])
    async def test_non_json_body_is_a_400_problem(self, client: httpx.AsyncClient, path: str) -> None:
        response = await client.post(path, content=b"refresh_token=abc", headers=JSON)

        assert_problem(response, 400, "malformed-json")

    @pytest.mark.parametrize("path", ["/v1/auth/refresh", "/v1/auth/logout"])
    async def test_body_carrying_tenant_id_is_a_422_and_leaves_the_token_untouched(
        self, client: httpx.AsyncClient, db: Db, agent: User, path: str
    ) -> None:
        token = (await login_ok(client, agent))["refresh_token"]

        response = await client.post(path, json={"refresh_token": token, "tenant_id": str(agent.tenant_id)})

        assert_problem(response, 422, "tenant-id-not-allowed")
        [stored] = await db.refresh_tokens(agent.tenant_id)
        assert (stored.used_at, stored.revoked_at) == (None, None)
