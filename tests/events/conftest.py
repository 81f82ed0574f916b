"""Fixtures for the event stream: the app under a real uvicorn server on a loopback port (httpx's ASGI transport
buffers whole responses, so a stream that never ends would never arrive), a Server-Sent Events reader with a
timeout on every read, and events written through the outbox as the domains write them.

The server runs as a task in the test's own event loop, with the test's runtime (its database pool, its manual
clock): the app's lifespan starts the event hub as `engage api` does."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from engage.config import EventsSettings, Settings
from engage.core.db import tenant_transaction
from engage.core.outbox import record_event
from engage.core.runtime import Runtime
from engage.events.hub import EventHub
from engage.main import create_app
from engage.tenancy.models import Tenant

# Every wait in these tests is bounded by this (a horizon held back by a long transaction elsewhere on the server
# delays the stream, by design; nothing here should take more than a fraction of it).
WAIT_SECONDS = 15.0


class StreamEnded(Exception):
    """The server closed the stream."""


@dataclass
class Message:
    """One SSE message: its fields, and the comment lines that came with it."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)


class Sse:
    """Reads an open `text/event-stream` response message by message, never waiting longer than asked. Lines are
    read by a task of their own, so a read that times out loses nothing and leaves the stream readable."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for line in self.response.aiter_lines():
                self._lines.put_nowait(line)
        except httpx.HTTPError:
            pass  # the connection broke: the stream has ended for the reader
        finally:
            self._lines.put_nowait(None)

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def message(self, seconds: float = WAIT_SECONDS) -> Message:
        """The next message (fields or comments up to a blank line); `StreamEnded` when the server closes."""
        message = Message()
        seen = False
        async with asyncio.timeout(seconds):
            while True:
                line = await self._lines.get()
                if line is None:
                    self._lines.put_nowait(None)  # every later read sees the end too
                    raise StreamEnded
                if line == "":
                    if seen:
                        return message
                    continue
                seen = True
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    message.comments.append(value)
                elif name == "id":
                    message.id = value
                elif name == "event":
                    message.event = value
                elif name == "data":
                    message.data = value if message.data is None else message.data + "\n" + value
                elif name == "retry":
                    message.retry = int(value)

    async def events(self, count: int, seconds: float = WAIT_SECONDS) -> list[Message]:
        """The next `count` events, skipping comments (heartbeats)."""
        found: list[Message] = []
        async with asyncio.timeout(seconds):
            while len(found) < count:
                message = await self.message(seconds)
                if message.event is not None:
                    found.append(message)
        return found

    async def until_end(self, seconds: float = WAIT_SECONDS) -> list[Message]:
        """Every message until the server closes the stream."""
        found: list[Message] = []
        async with asyncio.timeout(seconds):
            while True:
                try:
                    found.append(await self.message(seconds))
                except StreamEnded:
                    return found


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: it runs inside the test run's loop, and Ctrl-C belongs to pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Live:
    base_url: str
    app: FastAPI
    runtime: Runtime

    @property
    def hub(self) -> EventHub:
        hub: EventHub = self.app.state.event_hub
        return hub

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(WAIT_SECONDS))

    @asynccontextmanager
    async def stream(
        self,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> AsyncIterator[Sse]:
        """GET /v1/events/stream; past the preamble when it opened (the stream is then registered at the hub)."""
        async with (
            self.client() as client,
            client.stream("GET", "/v1/events/stream", headers=headers, params=params) as response,
        ):
            if response.status_code != 200:
                await response.aread()
            sse = Sse(response)
            try:
                if response.status_code == 200:
                    preamble = await sse.message()
                    assert preamble.retry == 3000
                    assert preamble.comments == ["connected"]
                yield sse
            finally:
                await sse.close()


Serve = Callable[..., Any]


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for `condition`, checking every 10 ms, for at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def serve(settings: Settings, runtime: Runtime) -> Serve:
    """`async with serve(heartbeat_seconds=…) as live:` the app on a loopback port, with these events settings."""

    @asynccontextmanager
    async def start(exiting: Callable[[], bool] | None = None, **events: Any) -> AsyncIterator[Live]:
        configured = settings.model_copy(
            update={"events": EventsSettings(**{"heartbeat_seconds": 15.0, "poll_seconds": 0.2, **events})}
        )
        own = dataclasses.replace(runtime, settings=configured)
        app = create_app(configured, runtime=own, exiting=exiting)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        server = _Server(uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, log_level="warning"))
        task = asyncio.create_task(server.serve(sockets=[listener]))
        try:
            await until(lambda: server.started, "the server to start")
            yield Live(base_url=f"http://127.0.0.1:{port}", app=app, runtime=own)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=WAIT_SECONDS)
            listener.close()

    return start


@dataclass
class Recorded:
    id: uuid.UUID
    event_type: str
    payload: dict[str, Any]


Record = Callable[..., Any]


@pytest.fixture
def record(runtime: Runtime) -> Record:
    """`await record(tenant, "call.completed", {...})`: one committed event, written by `record_event` as every
    domain writes them."""

    async def write(
        tenant: Tenant | uuid.UUID, event_type: str, payload: dict[str, Any] | None = None, **kwargs: Any
    ) -> Recorded:
        tenant_id = tenant if isinstance(tenant, uuid.UUID) else tenant.id
        body = payload if payload is not None else {"n": 1}
        async with tenant_transaction(runtime.sessions, tenant_id) as session:
            event = await record_event(session, tenant_id, event_type, body, clock=runtime.clock, **kwargs)
        return Recorded(event.id, event_type, body)

    return write
