"""The simulator's side of the Event Socket wire: decoding the commands a client sends, and the fixed text by
which the switch names itself (hostname, addresses, version, session limit, the goodbye).

Wire text is FreeSWITCH's own (see the captures in /work/shared/esl-samples). Pure: no sockets, no state beyond a
decoder's buffer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from engage.telephony.esl import codec

HOSTNAME = "engage-sim"
IPV4 = "127.0.0.1"
SIP_DOMAIN = "127.0.0.1"
VERSION = "1.10.3-release git e52b1a8 2020-09-09 12:16:24Z 64bit"
MAX_SESSIONS = 10000
# mod_event_socket's goodbye (67 bytes, as in the karan-2023-replies capture).
DISCONNECT_TEXT = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
MAX_COMMAND_BYTES = 1 << 20
READ_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class Command:
    """One client command: its first line (`api status`), the header lines after it, and any body."""

    line: str
    headers: codec.Headers
    body: bytes = b""


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


@dataclass
class CommandDecoder:
    """Bytes from a client in, whole commands out. The codec's FrameDecoder reads server frames, whose first line
    is a header; a command's first line is the command itself (and may hold a colon: `event plain CUSTOM
    sofia::register`), so it is taken whole here. Lines may end in CRLF, as mod_event_socket accepts."""

    _buffer: bytearray = field(default_factory=bytearray)
    _pending: tuple[str, codec.Headers, int] | None = None

    def feed(self, data: bytes) -> list[Command]:
        self._buffer += data
        commands = []
        while (command := self._next()) is not None:
            commands.append(command)
        return commands

    def _next(self) -> Command | None:
        buffer = self._buffer
        if self._pending is None:
            start = 0
            while start < len(buffer) and buffer[start] in (0x0A, 0x0D):
                start += 1
            del buffer[:start]
            end = _BLANK_LINE.search(buffer)
            if end is None:
                if len(buffer) > MAX_COMMAND_BYTES:
                    raise codec.EslProtocolError(f"no end of command in {len(buffer)} bytes")
                return None
            lines = bytes(buffer[: end.start()]).decode("utf-8", errors="replace").split("\n")
            del buffer[: end.end()]
            items = []
            for raw in lines[1:]:
                name, separator, value = raw.rstrip("\r").partition(":")
                if separator:
                    items.append((name.strip(), value.strip()))
            headers = codec.Headers(tuple(items))
            length_text = (headers.get("Content-Length") or "0").strip()
            if not length_text.isdigit() or int(length_text) > MAX_COMMAND_BYTES:
                raise codec.EslProtocolError(f"bad Content-Length {length_text!r}")
            self._pending = (lines[0].strip(), headers, int(length_text))
        line, headers, length = self._pending
        if len(buffer) < length:
            return None
        body = bytes(buffer[:length])
        del buffer[:length]
        self._pending = None
        return Command(line, headers, body)


def now_us() -> int:
    """The wall clock in epoch microseconds, as FreeSWITCH prints instants (only ever a timestamp)."""
    return int(time.time() * 1_000_000)


def duration_text(seconds: float) -> str:
    """FreeSWITCH's uptime wording: `0 years, 0 days, 0 hours, 1 minutes, 5 seconds, 12 milliseconds, 3 µs`."""
    micro = int(seconds * 1_000_000)
    seconds_total, micro = divmod(micro, 1_000_000)
    ms, us = divmod(micro, 1000)
    minutes, secs = divmod(seconds_total, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    years, days = divmod(days, 365)
    return (
        f"{years} years, {days} days, {hours} hours, {minutes} minutes, {secs} seconds, "
        f"{ms} milliseconds, {us} microseconds"
    )
