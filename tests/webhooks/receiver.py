"""A real HTTP/1.1 receiver on 127.0.0.1 for webhook tests: records every request and answers as the test says.

Raw asyncio (keep-alive, Content-Length bodies), so the tests exercise the real client, sockets and all.
Each subscription in a test gets its own path, and assertions read `requests_to(path)`: a dispatcher works
across tenants, so a path keeps one test's deliveries apart from anything else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic()


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    # Held until this event is set (or the receiver closes): a slow or hung receiver without sleeping.
    hold: asyncio.Event | None = None


Respond = Callable[[Received], Reply]


class Receiver:
    def __init__(self, respond: Respond | None = None) -> None:
        self.respond: Respond = respond or (lambda _request: Reply())
        self.requests: list[Received] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for handler in list(self._handlers):
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    async def wait_for(self, path: str, count: int, timeout_seconds: float = 10.0) -> list[Received]:
        """Until `count` requests to `path` have arrived (whether or not they have been answered)."""
        async with asyncio.timeout(timeout_seconds), self.arrived:
            await self.arrived.wait_for(lambda: len(self.requests_to(path)) >= count)
        return self.requests_to(path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _version = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                received = Received(method, target, headers, body, time.monotonic())
                path = target.split("?")[0]
                self.requests.append(received)
                self.in_flight[path] = self.in_flight.get(path, 0) + 1
                self.max_in_flight[path] = max(self.max_in_flight.get(path, 0), self.in_flight[path])
                async with self.arrived:
                    self.arrived.notify_all()
                reply = self.respond(received)
                try:
                    if reply.hold is not None:
                        await reply.hold.wait()
                finally:
                    self.in_flight[path] -= 1
                extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
                writer.write(
                    f"HTTP/1.1 {reply.status} X\r\nContent-Length: {len(reply.body)}\r\n{extra}\r\n".encode()
                    + reply.body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Closing the receiver cancels its handlers; a cancelled handler task makes asyncio's stream
            # callback log an error, so it ends normally instead.
            return
        finally:
            self._handlers.discard(task)
            writer.close()
