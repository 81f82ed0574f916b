"""The ESL wire format, both directions, for the client and the simulator alike.

A frame is a block of `Name: value` header lines ended by an empty line, then exactly `Content-Length` bytes of
body when that header is present (mod_event_socket). Frames arrive split anywhere across reads and several in
one read: `FrameDecoder.feed` buffers and returns the frames completed so far.

Events travel as frames whose body is itself an event:
- `text/event-plain`: a header block whose values FreeSWITCH URL-encodes (`switch_url_encode`), decoded here
  exactly once (`urllib.parse.unquote`: `%20` is a space, a `+` stays a `+`). Header names repeat (two
  `Hangup-Cause` lines in current CHANNEL_HANGUP_COMPLETE): all are kept, in order. An event may carry its own
  body (BACKGROUND_JOB's result) after an inner `Content-Length` header and an empty line.
- `text/event-json`: one JSON object of string values; the body, if any, is the `_body` key.

Commands from a client are one line (`api status`, `auth secret`) ended by an empty line; `sendmsg` adds
header lines. Invariant: `encode_*` then `FrameDecoder` gives back the same headers and body.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

# Content types of mod_event_socket's frames.
AUTH_REQUEST = "auth/request"
COMMAND_REPLY = "command/reply"
API_RESPONSE = "api/response"
EVENT_PLAIN = "text/event-plain"
EVENT_JSON = "text/event-json"
DISCONNECT_NOTICE = "text/disconnect-notice"
RUDE_REJECTION = "text/rude-rejection"

# A header block longer than this is not ESL (FreeSWITCH's own limit for a header line is far below it): fail
# fast instead of buffering a stream that will never frame.
MAX_HEADER_BLOCK = 1 << 20
MAX_BODY = 64 << 20

# switch_url_encode leaves alphanumerics and these unescaped.
_SAFE = "-_.!~*'()"


class EslProtocolError(ValueError):
    """Bytes that cannot be ESL: the connection carrying them is unusable."""


@dataclass(frozen=True, slots=True)
class Headers:
    """Header lines in order, names repeated as they came."""

    items: tuple[tuple[str, str], ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.items:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items)

    def as_dict(self) -> dict[str, str | list[str]]:
        """Names to values; a repeated name maps to the list of its values, in order."""
        out: dict[str, str | list[str]] = {}
        for key, value in self.items:
            if key in out:
                previous = out[key]
                out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Frame:
    headers: Headers
    body: bytes = b""

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Event:
    """An event's headers (values decoded) and its own body, if it has one."""

    headers: Headers
    body: str | None = None

    @property
    def name(self) -> str | None:
        return self.headers.get("Event-Name")

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


def _header_lines(block: bytes, *, url_decoded: bool) -> Headers:
    items: list[tuple[str, str]] = []
    for raw in block.split(b"\n"):
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not line:
            continue
        name, separator, value = line.partition(":")
        if not separator:
            # Leniency for hand-edited captures: a line without a colon continues the previous value.
            if items:
                key, previous = items[-1]
                items[-1] = (key, f"{previous}\n{line}")
            continue
        value = value.lstrip(" ")
        items.append((name.strip(), unquote(value) if url_decoded else value))
    return Headers(tuple(items))


@dataclass
class FrameDecoder:
    """Bytes in, whole frames out, whatever the read boundaries."""

    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def _next(self) -> Frame | None:
        buffer = self._buffer
        # Stray blank lines between frames carry nothing.
        start = 0
        while start < len(buffer) and buffer[start] in (0x0A, 0x0D):
            start += 1
        if start:
            del buffer[:start]
        end = buffer.find(b"\n\n")
        if end < 0:
            if len(buffer) > MAX_HEADER_BLOCK:
                raise EslProtocolError(f"no end of header block in {len(buffer)} bytes")
            return None
        headers = _header_lines(bytes(buffer[:end]), url_decoded=False)
        length_text = headers.get("Content-Length")
        length = 0
        if length_text is not None:
            if not length_text.strip().isdigit() or int(length_text) > MAX_BODY:
                raise EslProtocolError(f"bad Content-Length {length_text!r}")
            length = int(length_text)
        body_start = end + 2
        if len(buffer) < body_start + length:
            return None
        body = bytes(buffer[body_start : body_start + length])
        del buffer[: body_start + length]
        return Frame(headers, body)


def decode_stream(data: bytes) -> list[Frame]:
    """Every whole frame of a captured stream (a trailing partial frame is ignored)."""
    return FrameDecoder().feed(data)


def parse_event(frame: Frame) -> Event:
    """The event a `text/event-plain` or `text/event-json` frame carries."""
    content_type = frame.content_type
    if content_type == EVENT_JSON:
        try:
            data = json.loads(frame.body)
        except ValueError as exc:
            raise EslProtocolError(f"event-json body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise EslProtocolError("event-json body is not an object")
        json_body = data.get("_body")
        items = tuple((str(key), str(value)) for key, value in data.items() if key != "_body")
        return Event(Headers(items), str(json_body) if json_body is not None else None)
    if content_type == EVENT_PLAIN:
        block, separator, rest = frame.body.partition(b"\n\n")
        headers = _header_lines(block, url_decoded=True)
        body: str | None = None
        inner_length = headers.get("Content-Length")
        if separator and inner_length is not None and inner_length.strip().isdigit():
            body = rest[: int(inner_length)].decode("utf-8", errors="replace")
        return Event(headers, body)
    raise EslProtocolError(f"not an event frame: {content_type!r}")


def _header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    lines = []
    for name, value in headers:
        if "\n" in name or "\n" in value:
            raise EslProtocolError(f"a header cannot span lines: {name!r}")
        lines.append(f"{name}: {value}\n")
    return "".join(lines).encode()


def encode_frame(headers: Sequence[tuple[str, str]], body: bytes = b"") -> bytes:
    """A server frame: the headers, `Content-Length` when there is a body, the empty line, the body."""
    if body:
        headers = [*(h for h in headers if h[0] != "Content-Length"), ("Content-Length", str(len(body)))]
    return _header_block(headers) + b"\n" + body


def encode_command(command: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    """A client command: `api …`, `bgapi …`, `event plain …`, `sendmsg <uuid>` with its header lines."""
    if "\n" in command:
        raise EslProtocolError("a command is one line")
    extra = list(headers)
    if body:
        extra.append(("Content-Length", str(len(body))))
    return f"{command}\n".encode() + _header_block(extra) + b"\n" + body


def url_encode(value: str) -> str:
    return quote(value, safe=_SAFE)


def encode_event_plain(headers: Sequence[tuple[str, str]], body: str | None = None) -> bytes:
    """A `text/event-plain` frame, values URL-encoded as FreeSWITCH does, with the event's own body."""
    lines = [(name, url_encode(value)) for name, value in headers if name != "Content-Length"]
    inner = _header_block(lines)
    if body is not None:
        encoded = body.encode()
        inner += _header_block([("Content-Length", str(len(encoded)))]) + b"\n" + encoded
    else:
        inner += b"\n"
    return encode_frame([("Content-Type", EVENT_PLAIN)], inner)


def encode_event_json(headers: Sequence[tuple[str, str]], body: str | None = None) -> bytes:
    data: dict[str, str] = dict(headers)
    if body is not None:
        data["Content-Length"] = str(len(body.encode()))
        data["_body"] = body
    return encode_frame([("Content-Type", EVENT_JSON)], json.dumps(data).encode())


def frame_as_json(frame: Frame) -> dict[str, object]:
    """What `engage esl decode` prints for one frame: events with their headers decoded."""
    out: dict[str, object] = {"content_type": frame.content_type, "headers": frame.headers.as_dict()}
    if frame.content_type in (EVENT_PLAIN, EVENT_JSON):
        event = parse_event(frame)
        out["event"] = event.headers.as_dict()
        out["body"] = event.body
    else:
        out["body"] = frame.text() if frame.body else None
    return out
