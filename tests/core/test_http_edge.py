"""The HTTP edge every request passes first: body-size limit, request ids, and the access log line
(issue 2, points 9 and 12)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request
from starlette.types import Message

from engage.config import Settings
from engage.core.runtime import Runtime
from engage.main import create_app

from ..conftest import ClientFor
from ..problems import assert_problem
from .conftest import LogLines

LIMIT = 1024  # the smallest max_body_bytes the settings accept


@pytest.fixture
def small_body_app(settings: Settings, runtime: Runtime) -> tuple[FastAPI, list[int]]:
    """The real app with a 1 KiB body limit and an /upload route that records the sizes it received."""
    small = settings.model_copy(update={"api": settings.api.model_copy(update={"max_body_bytes": LIMIT})})
    app = create_app(small, runtime=runtime)
    received: list[int] = []

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        body = await request.body()
        received.append(len(body))
        return {"bytes": len(body)}

    return app, received


async def _chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b"x" * min(size, total - sent)
        sent += len(chunk)
        yield chunk


class TestBodySizeLimit:
    async def test_body_at_the_limit_reaches_the_endpoint(
        self, small_body_app: tuple[FastAPI, list[int]], client_for: ClientFor
    ) -> None:
        app, received = small_body_app

        async with client_for(app) as client:
            response = await client.post("/upload", content=b"x" * LIMIT)

        assert response.status_code == 200
        assert received == [LIMIT]

    async def test_declared_content_length_over_the_limit_is_413_before_the_endpoint_runs(
        self, small_body_app: tuple[FastAPI, list[int]], client_for: ClientFor
    ) -> None:
        app, received = small_body_app

        async with client_for(app) as client:
            response = await client.post("/upload", content=b"x" * (LIMIT + 1))

        assert response.request.headers["content-length"] == str(LIMIT + 1)
        body = assert_problem(response, 413, "payload-too-large")
        assert str(LIMIT) in body["detail"]
        assert received == []

    async def test_chunked_body_without_content_length_is_413_once_it_passes_the_limit(
        self, small_body_app: tuple[FastAPI, list[int]], client_for: ClientFor
    ) -> None:
        app, received = small_body_app

        async with client_for(app) as client:
            response = await client.post("/upload", content=_chunks(LIMIT * 4))

        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert_problem(response, 413, "payload-too-large")
        assert received == []

    async def test_chunked_body_over_the_limit_is_413_on_a_json_endpoint_too(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor
    ) -> None:
        # Here FastAPI itself reads the body to parse it; the limit must still win over "malformed JSON".
        small = settings.model_copy(update={"api": settings.api.model_copy(update={"max_body_bytes": LIMIT})})
        app = create_app(small, runtime=runtime)

        async with client_for(app) as client:
            response = await client.post(
                "/v1/auth/login", content=_chunks(LIMIT * 2), headers={"content-type": "application/json"}
            )

        assert_problem(response, 413, "payload-too-large")

    async def test_default_limit_comes_from_settings(self, settings: Settings, client: httpx.AsyncClient) -> None:
        oversized = b"x" * (settings.api.max_body_bytes + 1)

        response = await client.post("/v1/auth/login", content=oversized, headers={"content-type": "application/json"})

        assert_problem(response, 413, "payload-too-large")


class TestRequestId:
    async def test_every_response_carries_a_fresh_request_id(self, client: httpx.AsyncClient) -> None:
        first = await client.get("/healthz")
        second = await client.get("/healthz")

        assert first.headers["x-request-id"]
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    @pytest.mark.parametrize("incoming", ["lb-trace-0123456789", "01919a1b-c2d3-7e4f-8a5b-6c7d8e9f0a1b", "a:b.c_d-e"])
    async def test_sane_incoming_request_id_is_echoed_and_used_as_instance(
        self, client: httpx.AsyncClient, incoming: str
    ) -> None:
        response = await client.get("/v1/missing", headers={"X-Request-ID": incoming})

        assert response.headers["x-request-id"] == incoming
        assert response.json()["instance"] == incoming

    @pytest.mark.parametrize(
        "incoming",
        ["short", "has spaces in it", "x" * 129, "quote\"injection'here", "semi;colon;value"],
        ids=["too-short", "spaces", "too-long", "quotes", "semicolons"],
    )
    async def test_insane_incoming_request_id_is_replaced(self, client: httpx.AsyncClient, incoming: str) -> None:
        response = await client.get("/v1/missing", headers={"X-Request-ID": incoming})

        assert response.headers["x-request-id"] != incoming
        assert response.headers["x-request-id"]
        assert response.json()["instance"] == response.headers["x-request-id"]

    async def test_incoming_request_id_ending_in_a_newline_is_replaced(
        self, settings: Settings, runtime: Runtime
    ) -> None:
        # httpx refuses to send such a header, so the app is called as a server would call it.
        app = create_app(settings, runtime=runtime)
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/healthz",
            "raw_path": b"/healthz",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"engage.test"), (b"x-request-id", b"abcdefgh1234\n")],
            "client": ("127.0.0.1", 50000),
            "server": ("engage.test", 80),
        }

        await app(scope, receive, send)

        start = next(message for message in sent if message["type"] == "http.response.start")
        request_ids = [value for name, value in start["headers"] if name == b"x-request-id"]
        assert len(request_ids) == 1
        assert b"\n" not in request_ids[0]
        assert request_ids[0] != b"abcdefgh1234\n"


class TestAccessLog:
    async def test_each_request_is_logged_once_with_its_request_id_route_and_status(
        self, client: httpx.AsyncClient, log_lines: LogLines
    ) -> None:
        response = await client.get("/v1/missing", headers={"X-Request-ID": "trace-abcdef123"})

        completed = [line for line in log_lines() if line["event"] == "request.completed"]
        assert len(completed) == 1
        line = completed[0]
        assert line["request_id"] == response.headers["x-request-id"] == "trace-abcdef123"
        assert line["status"] == 404
        assert line["method"] == "GET"
        assert line["level"] == "info"
        assert line["timestamp"].endswith("Z")

    async def test_unexpected_exception_is_logged_with_its_trace_and_the_request_id_the_client_got(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor, log_lines: LogLines
    ) -> None:
        app = create_app(settings, runtime=runtime)

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("disk on fire")

        async with client_for(app) as client:
            response = await client.get("/boom")

        failed = [line for line in log_lines() if line["event"] == "request.failed"]
        assert len(failed) == 1
        assert failed[0]["request_id"] == response.json()["instance"]
        assert "RuntimeError: disk on fire" in failed[0]["exception"]
        assert failed[0]["level"] == "error"

    async def test_request_id_is_not_carried_into_log_lines_after_the_request(
        self, client: httpx.AsyncClient, log_lines: LogLines
    ) -> None:
        await client.get("/healthz")
        structlog.get_logger("engage.test").info("after.request")

        after = [line for line in log_lines() if line["event"] == "after.request"]
        assert len(after) == 1
        assert "request_id" not in after[0]
