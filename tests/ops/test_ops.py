"""Operations endpoints (issue 2, point 12; DESIGN.md §2): liveness, readiness, Prometheus metrics, and the
OpenAPI description of every route."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from prometheus_client import REGISTRY
from pydantic import SecretStr, ValidationError

from engage.config import MetricsSettings, Settings
from engage.core.db import create_engine
from engage.core.runtime import Runtime
from engage.main import create_app

from ..conftest import ClientFor
from ..factories import Factory
from ..problems import assert_problem


def _requests_total(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "engage_http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def _operations_of(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every documented API route, included routers flattened."""
    operations: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            operations.update((str(route.path), method.lower()) for method in route.methods or ())
    return operations


def _schema(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


class TestHealth:
    async def test_healthz_answers_200_without_a_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_readyz_answers_200_when_the_database_answers(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "up"}

    async def test_readyz_answers_503_when_the_database_does_not(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor, closed_port: int
    ) -> None:
        dead = create_engine(f"postgresql://engage@127.0.0.1:{closed_port}/engage", pool_size=1)
        app = create_app(settings, runtime=dataclasses.replace(runtime, engine=dead))
        try:
            async with client_for(app) as client:
                ready = await client.get("/readyz")
                alive = await client.get("/healthz")
        finally:
            await dead.dispose()

        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "down"}
        assert alive.status_code == 200


class TestMetricsToken:
    TOKEN = "scrape-token-0123456789abcdef"

    async def _client(self, settings: Settings, runtime: Runtime, client_for: ClientFor) -> httpx.AsyncClient:
        guarded = settings.model_copy(update={"metrics": MetricsSettings(token=SecretStr(self.TOKEN))})
        return client_for(create_app(guarded, runtime=dataclasses.replace(runtime, settings=guarded)))

    async def test_with_a_token_set_metrics_need_it_as_a_bearer_token(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor
    ) -> None:
        async with await self._client(settings, runtime, client_for) as client:
            allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {self.TOKEN}"})
            missing = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
            basic = await client.get("/metrics", headers={"Authorization": f"Basic {self.TOKEN}"})
            health = await client.get("/healthz")

        assert allowed.status_code == 200
        assert "# TYPE engage_http_requests_total counter" in allowed.text
        for refused in (missing, wrong, basic):
            assert_problem(refused, 401, "unauthorized")
            assert refused.headers["WWW-Authenticate"] == "Bearer"
            assert "engage_http_requests_total" not in refused.text
            assert self.TOKEN not in refused.text
        assert health.status_code == 200  # only /metrics is guarded

    def test_a_short_token_is_refused_at_start(self) -> None:
        with pytest.raises(ValidationError, match=r"metrics\.token"):
            Settings(metrics={"token": "short"})


class TestMetrics:
    async def test_metrics_are_prometheus_text_with_the_request_counter(self, client: httpx.AsyncClient) -> None:
        await client.get("/healthz")

        response = await client.get("/metrics")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        assert "# TYPE engage_http_requests_total counter" in response.text
        assert 'engage_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
        assert "# TYPE engage_http_request_duration_seconds histogram" in response.text

    async def test_requests_are_counted_by_route_template_not_by_raw_path(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        admin = await factory.user(await factory.tenant())
        missing = uuid.uuid4()
        before = _requests_total("GET", "/v1/users/{user_id}", "404")

        await client.get(f"/v1/users/{missing}", headers=factory.headers(admin))
        text = (await client.get("/metrics")).text

        assert _requests_total("GET", "/v1/users/{user_id}", "404") == before + 1
        assert str(missing) not in text

    async def test_unmatched_paths_share_one_label_value(self, client: httpx.AsyncClient) -> None:
        before = _requests_total("GET", "unmatched", "404")

        await client.get(f"/probe/{uuid.uuid4()}")
        await client.get(f"/probe/{uuid.uuid4()}")

        assert _requests_total("GET", "unmatched", "404") == before + 2

    async def test_invented_methods_share_one_label_value(self, client: httpx.AsyncClient) -> None:
        before = _requests_total("other", "/healthz", "405")

        await client.request("BREW", "/healthz")
        await client.request("XYZZY", "/healthz")

        text = (await client.get("/metrics")).text
        assert _requests_total("other", "/healthz", "405") == before + 2
        assert "BREW" not in text


class TestOpenApi:
    async def test_openapi_json_describes_every_route_of_the_app(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor
    ) -> None:
        app = create_app(settings, runtime=runtime)

        async with client_for(app) as client:
            response = await client.get("/openapi.json")

        assert response.status_code == 200, response.text
        spec = response.json()
        documented = {(path, method) for path, item in spec["paths"].items() for method in item}
        expected = _operations_of(app)
        assert {("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"), ("/v1/auth/login", "post")} <= expected
        assert {("/v1/users", "get"), ("/v1/users", "post"), ("/v1/users/{user_id}", "patch")} <= expected
        assert documented == expected

    async def test_every_operation_has_a_summary(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()

        missing = [
            f"{method.upper()} {path}"
            for path, item in spec["paths"].items()
            for method, operation in item.items()
            if not operation.get("summary")
        ]
        assert missing == []

    async def test_docs_serve_an_html_page_pointing_at_the_schema(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in response.text

    async def test_login_route_carries_request_and_error_examples(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        login = spec["paths"]["/v1/auth/login"]["post"]

        body = _schema(spec, login["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        problem = login["responses"]["401"]["content"]["application/problem+json"]["example"]
        assert body["properties"]["email"]["examples"] == ["agent@acme.com"]
        assert body["properties"]["password"]["examples"]
        assert problem["type"] == "https://engage.broadnet.me/errors/invalid-credentials"
        assert problem["status"] == 401

    async def test_users_routes_carry_examples(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        create = spec["paths"]["/v1/users"]["post"]

        body = _schema(spec, create["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert body["properties"]["email"]["examples"]
        assert body["properties"]["full_name"]["examples"]
        assert body["properties"]["role"]["examples"] == ["agent"]
        assert body["additionalProperties"] is False
