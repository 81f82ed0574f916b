"""A raw ESL server for the cases the simulator cannot produce on purpose (a switch that goes silent, a late
reply): it authenticates any password, then answers each `api` command through a test-given function."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from engage.telephony.esl.codec import encode_frame

Answer = Callable[[str], Awaitable[str | None]]  # the command line → the api body, or None to stay silent


@contextlib.asynccontextmanager
async def fake_switch(answer: Answer, *, send_auth_request: bool = True) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not send_auth_request:
                await reader.read()
                return
            writer.write(encode_frame([("Content-Type", "auth/request")]))
            await reader.readuntil(b"\n\n")
            writer.write(encode_frame([("Content-Type", "command/reply"), ("Reply-Text", "+OK accepted")]))
            while True:
                command = (await reader.readuntil(b"\n\n")).decode().strip().splitlines()[0]
                body = await answer(command)
                if body is not None:
                    writer.write(encode_frame([("Content-Type", "api/response")], body.encode()))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
