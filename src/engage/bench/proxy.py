"""A small loopback TCP proxy in front of several `engage api` processes: the load balancer of the production
topology when it runs on one machine (the topology test, `engage bench soak`); in production nginx or any HTTP
load balancer takes its place (docs/operations.md, "Running in production").

    python -m engage.bench.proxy --listen 127.0.0.1:8080 --upstream 127.0.0.1:8001 --upstream 127.0.0.1:8002

Each client connection goes to the next upstream in turn (round-robin). When an upstream refuses the connection
(its process is gone) the next one is tried, so a dead API costs new connections nothing; only the requests in
flight on its open connections are cut, which the client sees as a dropped connection, never as an HTTP error the
proxy made up. Only when every upstream refuses does the client get a `502` problem. It imports nothing but the
standard library, so it starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence

# An upstream on loopback answers a connect at once or refuses it; one that does neither in this long is treated
# as refusing, and the next is tried.
CONNECT_TIMEOUT_SECONDS = 2.0
_CHUNK = 64 * 1024
_BAD_GATEWAY_BODY = json.dumps(
    {
        "type": "https://engage.broadnet.me/errors/bad-gateway",
        "title": "Bad gateway",
        "status": 502,
        "detail": "No API process accepted the connection.",
    }
).encode()
BAD_GATEWAY = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/problem+json\r\nConnection: close\r\n"
    + f"Content-Length: {len(_BAD_GATEWAY_BODY)}\r\n\r\n".encode()
    + _BAD_GATEWAY_BODY
)


def address(text: str) -> tuple[str, int]:
    """`host:port` (the host may be a bracketed IPv6 address)."""
    host, separator, port = text.rpartition(":")
    if not separator or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected host:port, got {text!r}")
    return host.strip("[]"), int(port)


class RoundRobinProxy:
    def __init__(self, upstreams: Sequence[tuple[str, int]]) -> None:
        if not upstreams:
            raise ValueError("at least one upstream is needed")
        self.upstreams = list(upstreams)
        self._next = 0
        self.refused = 0  # connects an upstream refused, each then retried on the next one
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the next upstream that accepts one, trying each at most once."""
        for _ in range(len(self.upstreams)):
            host, port = self.upstreams[self._next]
            self._next = (self._next + 1) % len(self.upstreams)
            try:
                return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_SECONDS)
            except (OSError, TimeoutError):
                self.refused += 1
        return None

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        self._writers.add(client_writer)
        try:
            upstream = await self._connect()
            if upstream is None:
                client_writer.write(BAD_GATEWAY)
                with contextlib.suppress(OSError):
                    await client_writer.drain()
                return
            upstream_reader, upstream_writer = upstream
            self._writers.add(upstream_writer)
            try:
                # Either side closing ends the pair: an HTTP client never half-closes a keep-alive connection,
                # and an upstream that died must not leave its client waiting on a silent socket.
                pumps = [
                    asyncio.create_task(_pump(client_reader, upstream_writer)),
                    asyncio.create_task(_pump(upstream_reader, client_writer)),
                ]
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
            finally:
                self._writers.discard(upstream_writer)
                await _close(upstream_writer)
        finally:
            self._writers.discard(client_writer)
            await _close(client_writer)

    async def close(self) -> None:
        """Drop every open connection and let each handler finish by itself (bounded). Cancelling them instead
        would have asyncio (3.11) log each cancelled handler as an error."""
        for writer in list(self._writers):
            writer.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=CONNECT_TIMEOUT_SECONDS + 1)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def serve(listen: tuple[str, int], upstreams: Sequence[tuple[str, int]]) -> None:
    """Proxy until SIGTERM or SIGINT; prints where it listens as JSON once it accepts connections."""
    proxy = RoundRobinProxy(upstreams)
    server = await asyncio.start_server(proxy.handle, *listen)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for handled in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(handled, stopping.set)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"proxy": {"host": listen[0], "port": port, "upstreams": [f"{h}:{p}" for h, p in upstreams]}}))
    sys.stdout.flush()
    await stopping.wait()
    server.close()
    await proxy.close()
    print(json.dumps({"proxy": {"refused_connects": proxy.refused}}), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engage.bench.proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=address, required=True, help="host:port to accept clients on")
    parser.add_argument("--upstream", type=address, action="append", required=True, help="host:port of an API")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen, args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
