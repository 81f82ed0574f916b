"""RFC 7807 everywhere: every failure the API can produce is an `application/problem+json` body with
`type`, `title`, `status`, `detail` and `instance` (issue 2, point 9; seed "Errors & Status Codes")."""

from __future__ import annotations

from typing import ClassVar

import httpx
import pytest
from pydantic import BaseModel

from engage.config import Settings
from engage.core.errors import ProblemError
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.main import create_app

from ..conftest import ClientFor
from ..factories import Factory
from ..problems import assert_problem

JSON = {"content-type": "application/json"}


class TestRoutingProblems:
    async def test_unknown_route_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/no-such-thing")

        body = assert_problem(response, 404, "not-found")
        assert "/v1/no-such-thing" in body["detail"]

    async def test_wrong_method_is_a_405_problem_naming_the_allowed_method(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/auth/login")

        assert_problem(response, 405, "method-not-allowed")
        assert response.headers["allow"] == "POST"

    async def test_405_allow_header_lists_every_method_of_the_path_not_only_the_first_route(
        self, client: httpx.AsyncClient
    ) -> None:
        # GET /v1/users and POST /v1/users are two routes; RFC 9110 wants both in Allow.
        response = await client.delete("/v1/users")

        assert_problem(response, 405, "method-not-allowed")
        assert response.headers["allow"] == "GET, POST"


class TestBodyProblems:
    @pytest.mark.parametrize(
        "raw",
        [b"{not json", b'{"email": "a@b.c",}', b"\xff\xfe"],
        ids=["garbled", "trailing-comma", "not-utf8"],
    )
    async def test_malformed_json_is_a_400_malformed_json_problem(self, client: httpx.AsyncClient, raw: bytes) -> None:
        response = await client.post("/v1/auth/login", content=raw, headers=JSON)

        assert_problem(response, 400, "malformed-json")

    @pytest.mark.parametrize("raw", [b"[1, 2]", b'"a string"', b"42", b"true", b"null"])
    async def test_json_that_is_not_an_object_is_a_400_malformed_json_problem(
        self, client: httpx.AsyncClient, raw: bytes
    ) -> None:
        response = await client.post("/v1/auth/login", content=raw, headers=JSON)

        assert_problem(response, 400, "malformed-json")

    async def test_validation_failure_is_a_400_listing_each_field_not_fastapis_422(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        admin = await factory.user(await factory.tenant())

        response = await client.post(
            "/v1/users",
            json={"email": "not-an-email", "password": "short", "full_name": "X", "role": "agent"},
            headers=factory.headers(admin),
        )

        body = assert_problem(response, 400, "validation-error")
        assert {error["field"] for error in body["errors"]} == {"email", "password"}
        assert all(error["message"] for error in body["errors"])

    async def test_missing_required_field_is_a_400_naming_the_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/auth/login", json={"email": "agent@acme.com"})

        body = assert_problem(response, 400, "validation-error")
        assert body["errors"] == [{"field": "password", "message": "Field required"}]

    async def test_invalid_query_parameter_is_a_400_naming_the_parameter(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        admin = await factory.user(await factory.tenant())

        response = await client.get("/v1/users", params={"role": "overlord"}, headers=factory.headers(admin))

        body = assert_problem(response, 400, "validation-error")
        assert [error["field"] for error in body["errors"]] == ["role"]

    async def test_body_carrying_tenant_id_is_a_422_problem(self, client: httpx.AsyncClient, factory: Factory) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant)

        response = await client.post(
            "/v1/users",
            json={
                "email": "new.agent@acme.test",
                "password": "a long enough password",
                "full_name": "New Agent",
                "role": "agent",
                "tenant_id": str(tenant.id),
            },
            headers=factory.headers(admin),
        )

        assert_problem(response, 422, "tenant-id-not-allowed")

    async def test_tenant_id_in_body_is_422_even_on_an_unauthenticated_route(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/auth/login", json={"email": "agent@acme.com", "password": "x", "tenant_id": "anything"}
        )

        assert_problem(response, 422, "tenant-id-not-allowed")

    async def test_unknown_field_other_than_tenant_id_is_a_400_validation_problem(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/v1/auth/login", json={"email": "agent@acme.com", "password": "x", "otp": "1"})

        body = assert_problem(response, 400, "validation-error")
        assert [error["field"] for error in body["errors"]] == ["otp"]


class TestAuthorisationProblems:
    async def test_missing_token_is_a_401_problem_with_a_bearer_challenge(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/users")

        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_role_without_the_permission_is_a_403_problem(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        agent = await factory.user(await factory.tenant(), Role.agent)

        response = await client.get("/v1/users", headers=factory.headers(agent))

        assert_problem(response, 403, "forbidden")


class _QuotaExhausted(ProblemError):
    status = 409
    slug = "quota-exhausted"
    title = "Quota exhausted"


class _Item(BaseModel):
    name: str


class TestRaisedProblems:
    async def test_problem_error_from_a_service_renders_its_status_slug_extra_members_and_headers(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor
    ) -> None:
        app = create_app(settings, runtime=runtime)

        @app.get("/quota")
        async def quota() -> None:
            raise _QuotaExhausted("No calls left this month.", extra={"limit": 10}, headers={"X-Quota": "0"})

        async with client_for(app) as client:
            response = await client.get("/quota")

        body = assert_problem(response, 409, "quota-exhausted")
        assert body["title"] == "Quota exhausted"
        assert body["detail"] == "No calls left this month."
        assert body["limit"] == 10
        assert response.headers["x-quota"] == "0"


class TestUnexpectedExceptions:
    SECRET_TEXT: ClassVar[str] = "postgresql://admin:hunter2@db.internal/engage"

    async def test_unexpected_exception_is_a_500_problem_without_exception_text_or_trace(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor
    ) -> None:
        app = create_app(settings, runtime=runtime)

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError(self.SECRET_TEXT)

        async with client_for(app) as client:
            response = await client.get("/boom")

        body = assert_problem(response, 500, "internal-error")
        assert set(body) == {"type", "title", "status", "detail", "instance"}
        assert self.SECRET_TEXT not in response.text
        assert "hunter2" not in response.text
        assert "RuntimeError" not in response.text
        assert "Traceback" not in response.text
        assert "boom" not in response.text

    async def test_unexpected_exception_carrying_request_data_does_not_echo_it(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor
    ) -> None:
        app = create_app(settings, runtime=runtime)

        @app.post("/items")
        async def items(item: _Item) -> None:
            raise KeyError(item.name)

        async with client_for(app) as client:
            response = await client.post("/items", json={"name": "s3cr3t-name"})

        assert_problem(response, 500, "internal-error")
        assert "s3cr3t-name" not in response.text
