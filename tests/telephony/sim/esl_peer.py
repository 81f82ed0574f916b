"""A raw ESL peer for the simulator tests: an asyncio socket and the codec, nothing of the client under
construction elsewhere, so these tests pin the wire format itself. Every read has a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engage.telephony.esl import codec

READ_TIMEOUT_SECONDS = 3.0


@dataclass
class EslPeer:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    decoder: codec.FrameDecoder = field(default_factory=codec.FrameDecoder)
    # Frames read off the socket but not yet claimed by a test, in arrival order.
    pending: list[codec.Frame] = field(default_factory=list)

    @classmethod
    async def connect(cls, port: int) -> EslPeer:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), READ_TIMEOUT_SECONDS)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), READ_TIMEOUT_SECONDS)

    def send(self, command: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.writer.write(codec.encode_command(command, headers))

    async def _read_more(self, deadline: float) -> bool:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError("no matching frame in time")
        data = await asyncio.wait_for(self.reader.read(65536), remaining)
        if not data:
            return False
        self.pending.extend(self.decoder.feed(data))
        return True

    async def take(self, match: Callable[[codec.Frame], bool], within: float = READ_TIMEOUT_SECONDS) -> codec.Frame:
        """The first frame (earliest first) that matches; the others stay pending, in order."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for index, frame in enumerate(self.pending):
                if match(frame):
                    return self.pending.pop(index)
            if not await self._read_more(deadline):
                raise ConnectionError("the switch closed the connection")

    async def reply(self) -> codec.Frame:
        return await self.take(lambda f: f.content_type in (codec.COMMAND_REPLY, codec.API_RESPONSE))

    async def command(self, command: str, headers: Sequence[tuple[str, str]] = ()) -> str:
        """Send a command, return its Reply-Text."""
        self.send(command, headers)
        frame = await self.reply()
        assert frame.content_type == codec.COMMAND_REPLY, frame
        return frame.headers.get("Reply-Text") or ""

    async def api(self, command: str, within: float = READ_TIMEOUT_SECONDS) -> str:
        self.send(f"api {command}")
        frame = await self.take(lambda f: f.content_type == codec.API_RESPONSE, within)
        return frame.text()

    async def event(self, name: str, within: float = READ_TIMEOUT_SECONDS, **match: str) -> codec.Event:
        """The first event called `name` whose headers hold `match` (underscores in keys read as dashes)."""
        wanted = {key.replace("_", "-"): value for key, value in match.items()}

        def matches(frame: codec.Frame) -> bool:
            if frame.content_type not in (codec.EVENT_PLAIN, codec.EVENT_JSON):
                return False
            event = codec.parse_event(frame)
            return event.name == name and all(event.get(k) == v for k, v in wanted.items())

        return codec.parse_event(await self.take(matches, within))

    async def count(self, name: str, wanted: int, within: float = READ_TIMEOUT_SECONDS) -> None:
        """Consume frames until `wanted` events called `name` went by (one pass, for streams of thousands)."""
        deadline = asyncio.get_running_loop().time() + within
        seen = 0
        while True:
            for frame in self.pending:
                if (
                    frame.content_type in (codec.EVENT_PLAIN, codec.EVENT_JSON)
                    and codec.parse_event(frame).name == name
                ):
                    seen += 1
            self.pending.clear()
            if seen >= wanted:
                return
            if not await self._read_more(deadline):
                raise ConnectionError("the switch closed the connection")

    def events_so_far(self) -> list[codec.Event]:
        return [codec.parse_event(f) for f in self.pending if f.content_type in (codec.EVENT_PLAIN, codec.EVENT_JSON)]

    async def closed(self, within: float = READ_TIMEOUT_SECONDS) -> bool:
        """Read to the end: True once the switch has closed the socket."""
        deadline = asyncio.get_running_loop().time() + within
        while await self._read_more(deadline):
            pass
        return True
