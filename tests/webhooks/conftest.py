"""Generic fixtures for webhook tests: a real HTTP receiver on loopback that records what it is sent, an app
(and its runtime) that may send to it (`allow_private_targets=true`), and direct reads and writes of the
webhook tables through the app role, scoped to one tenant as the services see them."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from engage.config import Settings, WebhookSettings
from engage.core.clock import Clock
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.outbox import record_event
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.webhooks.models import WebhookDelivery, WebhookSubscription

from ..conftest import ClientFor


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Receiver:
    """An HTTP/1.1 server on 127.0.0.1 (a raw asyncio server: one request per connection, then close).
    `status` is what it answers; `received` every request, in arrival order."""

    status: int = 200
    received: list[ReceivedRequest] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(ReceivedRequest(method=method, path=path, headers=headers, body=body))
            writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiving = Receiver()
    server = await asyncio.start_server(receiving.handle, "127.0.0.1", 0)
    receiving.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiving
        server.close()


@pytest.fixture
def private_settings(settings: Settings) -> Settings:
    """The test settings with `ENGAGE_WEBHOOK_ALLOW_PRIVATE_TARGETS=true`, so loopback receivers are allowed."""
    return settings.model_copy(update={"webhook": WebhookSettings(allow_private_targets=True)})


@pytest.fixture
def private_runtime(runtime: Runtime, private_settings: Settings) -> Runtime:
    return dataclasses.replace(runtime, settings=private_settings)


@pytest.fixture
async def private_client(
    private_settings: Settings, private_runtime: Runtime, client_for: ClientFor
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with private targets allowed (same database, clock and token codec as `client`)."""
    async with client_for(create_app(private_settings, runtime=private_runtime)) as client:
        yield client


@dataclass
class WebhookDb:
    """Direct access to the webhook tables, each call in a transaction of its own scoped to one tenant."""

    runtime: Runtime

    async def subscriptions(self, tenant_id: uuid.UUID) -> Sequence[WebhookSubscription]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))).all()

    async def subscription(self, tenant_id: uuid.UUID, subscription_id: uuid.UUID) -> WebhookSubscription | None:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return await session.get(WebhookSubscription, subscription_id)

    async def delivery(self, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return await session.get(WebhookDelivery, delivery_id)

    async def delivery_count(self, tenant_id: uuid.UUID) -> int:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return int(await session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)

    async def event(
        self,
        tenant_id: uuid.UUID,
        event_type: str = "dnc.added",
        payload: dict[str, Any] | None = None,
        *,
        clock: Clock,
    ) -> uuid.UUID:
        """An outbox event (as a domain service writes it); its id."""
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            event = await record_event(session, tenant_id, event_type, payload or {}, clock=clock)
            return event.id

    async def add_delivery(
        self,
        tenant_id: uuid.UUID,
        subscription_id: uuid.UUID,
        *,
        clock: Clock,
        event_type: str = "dnc.added",
        **columns: Any,
    ) -> WebhookDelivery:
        """A delivery row of a fresh outbox event, pending and untried unless `columns` say otherwise."""
        event_id = await self.event(tenant_id, event_type, clock=clock)
        now: datetime = clock.now()
        values: dict[str, Any] = {
            "id": new_id(),
            "tenant_id": tenant_id,
            "subscription_id": subscription_id,
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": now,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "leased_until": None,
            "last_attempt_at": None,
            "last_status_code": None,
            "last_error": None,
            "last_latency_ms": None,
            "delivered_at": None,
            "created_at": now,
        } | columns
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            delivery = WebhookDelivery(**values)
            session.add(delivery)
        return delivery


@pytest.fixture
def webhook_db(runtime: Runtime) -> WebhookDb:
    return WebhookDb(runtime)


# A public address as an IP literal: saving a subscription resolves its host, and tests must not need DNS.
PUBLIC_URL = "https://93.184.215.14/hooks/engage"

CreateWebhook = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def create_webhook(client: httpx.AsyncClient, headers: dict[str, str]) -> CreateWebhook:
    """POST /v1/webhooks as the tenant's admin (or `as_=` other headers, `via=` another client); the 201 body."""

    async def post(
        as_: dict[str, str] | None = None, via: httpx.AsyncClient | None = None, **body: Any
    ) -> dict[str, Any]:
        body.setdefault("url", PUBLIC_URL)
        body.setdefault("events", ["dnc.added"])
        response = await (via or client).post("/v1/webhooks", headers=as_ or headers, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return post
