"""GET /v1/events/stream: events appear live in the SSE wire format with the webhook envelope, heartbeats keep an
idle stream alive, and a stream ends when the session that opened it does."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from prometheus_client import REGISTRY

from engage.core.clock import ManualClock, isoformat_z
from engage.core.logging import configure_logging
from engage.core.outbox import envelope
from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from .conftest import WAIT_SECONDS, Record, Serve, StreamEnded, until


def _gauge() -> float:
    return REGISTRY.get_sample_value("engage_event_streams_open") or 0.0


def _streamed() -> float:
    return REGISTRY.get_sample_value("engage_events_streamed_total") or 0.0


class TestLive:
    async def test_an_event_committed_after_the_stream_opened_arrives_with_its_id_type_and_envelope(
        self, serve: Serve, record: Record, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        async with serve() as live, live.stream(headers=factory.headers(admin)) as sse:
            recorded = await record(
                tenant, "call.completed", {"call_id": "c-1", "agent_id": None}, correlation_id=tenant.id
            )

            [message] = await sse.events(1)

        assert message.id == str(recorded.id)
        assert message.event == "call.completed"
        assert message.data is not None
        assert "\n" not in message.data
        body = json.loads(message.data)
        assert list(body) == [
            "event_id",
            "event_type",
            "tenant_id",
            "occurred_at",
            "correlation_id",
            "schema_version",
            "payload",
        ]
        assert body == {
            "event_id": str(recorded.id),
            "event_type": "call.completed",
            "tenant_id": str(tenant.id),
            "occurred_at": isoformat_z(live.runtime.clock.now()),
            "correlation_id": str(tenant.id),
            "schema_version": "1",
            "payload": {"call_id": "c-1", "agent_id": None},
        }
        assert body["occurred_at"].endswith("Z")

    async def test_the_data_line_is_the_webhook_envelope_byte_for_byte(
        self, serve: Serve, record: Record, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        async with serve() as live, live.stream(headers=factory.headers(admin)) as sse:
            recorded = await record(tenant, "dnc.added", {"phone": "+971501234567", "reason": "بلا اتصال"})

            [message] = await sse.events(1)

        expected = envelope(
            event_id=recorded.id,
            event_type="dnc.added",
            tenant_id=tenant.id,
            occurred_at=live.runtime.clock.now(),
            correlation_id=None,
            payload=recorded.payload,
        )
        assert message.data is not None
        assert message.data.encode() == expected

    async def test_an_event_written_by_an_endpoint_reaches_a_stream_of_another_user_of_the_tenant(
        self, serve: Serve, tenant: Tenant, supervisor: User, factory: Factory
    ) -> None:
        agent = await factory.user(tenant, Role.agent, sip_user=f"stream_agent_{tenant.id.hex[:8]}")
        async with serve() as live, live.stream(headers=factory.headers(supervisor)) as sse, live.client() as client:
            changed = await client.post("/v1/agents/me/state", json={"state": "break"}, headers=factory.headers(agent))
            assert changed.status_code == 200, changed.text

            [message] = await sse.events(1)

        assert message.event == "agent.state_changed"
        assert message.data is not None
        payload = json.loads(message.data)["payload"]
        assert payload["agent_id"] == str(agent.id)
        assert payload["state"] == "break"

    async def test_events_of_several_transactions_arrive_in_commit_order_each_once(
        self, serve: Serve, record: Record, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        async with serve() as live, live.stream(headers=factory.headers(admin)) as sse:
            recorded = [await record(tenant, "call.initiated", {"n": n}) for n in range(5)]

            messages = await sse.events(5)

        assert [m.id for m in messages] == [str(r.id) for r in recorded]

    async def test_the_response_is_an_uncached_unbuffered_event_stream_opening_with_retry_and_a_comment(
        self, serve: Serve, admin: User, factory: Factory
    ) -> None:
        async with (
            serve() as live,
            live.client() as client,
            client.stream("GET", "/v1/events/stream", headers=factory.headers(admin)) as response,
        ):
            first = b""
            async with asyncio.timeout(WAIT_SECONDS):
                async for chunk in response.aiter_bytes():
                    first += chunk
                    if first.endswith(b"\n\n"):
                        break

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in response.headers
        assert first == b"retry: 3000\n: connected\n\n"


class TestHeartbeat:
    async def test_an_idle_stream_carries_a_heartbeat_comment_every_heartbeat_seconds(
        self, serve: Serve, admin: User, factory: Factory
    ) -> None:
        async with serve(heartbeat_seconds=0.05) as live, live.stream(headers=factory.headers(admin)) as sse:
            first = await sse.message()
            second = await sse.message()

        assert first.comments == ["heartbeat"]
        assert second.comments == ["heartbeat"]
        assert first.event is None


class TestSessionEnd:
    async def test_a_bearer_stream_ends_when_its_access_token_expires(
        self, serve: Serve, admin: User, factory: Factory, clock: ManualClock
    ) -> None:
        ttl = factory.runtime.tokens.ttl_seconds
        async with serve(heartbeat_seconds=0.05) as live, live.stream(headers=factory.headers(admin)) as sse:
            clock.advance(ttl - 1)
            still_open = await sse.message()
            clock.advance(1)

            rest = await sse.until_end()

        assert still_open.comments == ["heartbeat"]
        assert all(message.event is None for message in rest)

    async def test_a_stream_opened_with_a_stream_token_ends_when_the_access_token_it_came_from_expires(
        self, serve: Serve, admin: User, factory: Factory, clock: ManualClock
    ) -> None:
        ttl = factory.runtime.tokens.ttl_seconds
        async with serve(heartbeat_seconds=0.05) as live:
            async with live.client() as client:
                minted = (await client.post("/v1/events/stream-token", headers=factory.headers(admin))).json()
            async with live.stream(params={"token": minted["token"]}) as sse:
                clock.advance(ttl)

                await sse.until_end()

    async def test_an_open_stream_ends_once_its_user_is_deactivated(
        self, serve: Serve, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        agent = await factory.user(tenant, Role.agent)
        async with serve(heartbeat_seconds=0.05) as live, live.stream(headers=factory.headers(agent)) as sse:
            async with live.client() as client:
                deactivated = await client.patch(
                    f"/v1/users/{agent.id}", json={"is_active": False}, headers=factory.headers(admin)
                )
                assert deactivated.status_code == 200, deactivated.text

            await sse.until_end()


class TestMetrics:
    async def test_open_streams_are_gauged_and_streamed_events_counted(
        self, serve: Serve, record: Record, tenant: Tenant, admin: User, factory: Factory
    ) -> None:
        before_open, before_streamed = _gauge(), _streamed()
        async with serve() as live:
            async with live.stream(headers=factory.headers(admin)) as sse:
                while_open = _gauge()
                await record(tenant, "call.completed")
                await sse.events(1)
            await until(lambda: _gauge() == before_open, "the stream to be counted closed")

        assert while_open == before_open + 1
        assert _streamed() >= before_streamed + 1


@pytest.fixture
def log_text() -> Iterator[Callable[[], str]]:
    """The production logging set-up writing into a buffer (as tests/core's `log_lines`)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    # Without the filter a webhook client adds to httpx's logger (it drops a URL's whole query string), which a
    # webhooks test run earlier in this process leaves behind: the masking tested here is the logging set-up's.
    httpx_log = logging.getLogger("httpx")
    saved_filters = httpx_log.filters[:]
    httpx_log.filters.clear()
    buffer = io.StringIO()
    configure_logging("INFO", stream=buffer)
    yield buffer.getvalue
    httpx_log.filters[:] = saved_filters
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


class TestAccessLog:
    async def test_the_access_line_of_a_stream_names_the_route_and_no_log_line_holds_the_stream_token(
        self, serve: Serve, admin: User, factory: Factory, log_text: Callable[[], str]
    ) -> None:
        async with serve() as live:
            async with live.client() as client:
                token = (await client.post("/v1/events/stream-token", headers=factory.headers(admin))).json()["token"]
            async with live.stream(params={"token": token}):
                pass
            await until(lambda: '"route": "/v1/events/stream"' in log_text(), "the stream's access line")

        lines: list[dict[str, Any]] = [json.loads(line) for line in log_text().splitlines() if line.strip()]
        [access] = [line for line in lines if line.get("route") == "/v1/events/stream"]
        assert access["event"] == "request.completed"
        assert access["status"] == 200
        assert token not in log_text()
        # A URL written by any logger (here the test client's own request line) carries the token masked.
        assert "token=[masked]" in log_text()


async def test_a_stream_ended_by_the_server_is_reported_as_ended(
    serve: Serve, admin: User, factory: Factory, clock: ManualClock
) -> None:
    """The reader's own contract, which the tests above rely on."""
    async with serve(heartbeat_seconds=0.05) as live, live.stream(headers=factory.headers(admin)) as sse:
        clock.advance(factory.runtime.tokens.ttl_seconds)
        with pytest.raises(StreamEnded):
            await sse.events(1)
