"""The simulator's event fan-out: what a connection subscribed to (`event`, `nixevent`, `noevents`, `filter`),
how an event is built with FreeSWITCH's common headers, and its delivery to every connection that wants it.

Invariants:
- Event-Sequence is one counter for the whole switch, increasing by one per event created; every connection
  that receives an event sees the same number, so a connection sees increasing but not contiguous numbers.
- Delivery is a synchronous write per connection, in O(connections), so frames leave in the order events are
  made; an event is encoded at most once per format however many connections take it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from engage.telephony.esl import codec

from .legs import LegState, channel_headers
from .protocol import HOSTNAME, IPV4

# (Event-Calling-File, Event-Calling-Function, Event-Calling-Line-Number) of each event in FreeSWITCH 1.10.
_CALLING = {
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "581"),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3795"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3996"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "950"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1648"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1789"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3300"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "696"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1683"),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", "1234"),
    "RECORD_STOP": ("switch_ivr_async.c", "record_callback", "1286"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1572"),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", "68"),
    "CUSTOM": ("sofia_reg.c", "sofia_reg_handle_register_token", "1977"),
}


@dataclass(slots=True)
class Event:
    name: str
    subclass: str | None
    headers: list[tuple[str, str]]
    body: str | None
    _encoded: dict[str, bytes] = field(default_factory=dict)

    def encoded(self, fmt: str) -> bytes:
        data = self._encoded.get(fmt)
        if data is None:
            encode = codec.encode_event_json if fmt == "json" else codec.encode_event_plain
            data = self._encoded[fmt] = encode(self.headers, self.body)
        return data

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


@dataclass
class Subscription:
    """What one connection listens to. `format` is None until `event` was sent (and again after `noevents`)."""

    format: str | None = None  # "plain" | "json"
    all_events: bool = False
    events: set[str] = field(default_factory=set)
    subclasses: set[str] = field(default_factory=set)
    filters: list[tuple[str, str]] = field(default_factory=list)

    def format_for(self, event: Event) -> str | None:
        """The format to send `event` in, or None if it is not wanted. mod_event_socket's event_handler: ALL
        takes everything; CUSTOM needs the subclass subscribed; then any filter (header equals value) must match
        when filters are set."""
        if self.format is None:
            return None
        if not self.all_events:
            if event.name not in self.events:
                return None
            if event.name == "CUSTOM" and event.subclass not in self.subclasses:
                return None
        if self.filters and not any(event.header(name) == value for name, value in self.filters):
            return None
        return self.format

    def subscribe(self, fmt: str, words: Sequence[str]) -> None:
        """`event <fmt> <names…>`: names after CUSTOM are its subclasses."""
        self.format = fmt
        custom = False
        for word in words:
            if custom:
                self.subclasses.add(word)
            elif word.upper() == "ALL":
                self.all_events = True
            elif word.upper() == "CUSTOM":
                custom = True
                self.events.add("CUSTOM")
            else:
                self.events.add(word.upper())

    def nix(self, words: Sequence[str]) -> None:
        for name in words:
            self.events.discard(name.upper())
            self.subclasses.discard(name)

    def clear(self) -> None:
        self.format = None
        self.all_events = False
        self.events.clear()
        self.subclasses.clear()


class Subscriber(Protocol):
    """A connection as the fan-out sees it."""

    @property
    def authed(self) -> bool: ...

    @property
    def subscription(self) -> Subscription: ...

    def send(self, data: bytes) -> None: ...


class EventBus:
    """Builds the switch's events and hands each to the subscribers that want it. `subscribers` is the server's
    live set of connections, read at every event."""

    def __init__(self, subscribers: Collection[Subscriber]) -> None:
        self._subscribers = subscribers
        self._core_uuid = str(uuid.uuid4())
        self._sequence = 0

    def emit(
        self,
        name: str,
        headers: Sequence[tuple[str, str]],
        *,
        subclass: str | None = None,
        body: str | None = None,
    ) -> None:
        self._sequence += 1
        now = time.time()
        moment = datetime.fromtimestamp(now, UTC)
        calling_file, calling_function, calling_line = _CALLING[name]
        base = [("Event-Subclass", subclass)] if subclass is not None else []
        base += [
            ("Event-Name", name),
            ("Core-UUID", self._core_uuid),
            ("FreeSWITCH-Hostname", HOSTNAME),
            ("FreeSWITCH-Switchname", HOSTNAME),
            ("FreeSWITCH-IPv4", IPV4),
            ("FreeSWITCH-IPv6", "::1"),
            ("Event-Date-Local", moment.strftime("%Y-%m-%d %H:%M:%S")),
            ("Event-Date-GMT", moment.strftime("%a, %d %b %Y %H:%M:%S GMT")),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))),
            ("Event-Calling-File", calling_file),
            ("Event-Calling-Function", calling_function),
            ("Event-Calling-Line-Number", calling_line),
            ("Event-Sequence", str(self._sequence)),
        ]
        event = Event(name, subclass, [*base, *headers], body)
        for subscriber in tuple(self._subscribers):
            if subscriber.authed and (fmt := subscriber.subscription.format_for(event)) is not None:
                subscriber.send(event.encoded(fmt))

    def emit_channel(
        self,
        name: str,
        leg: LegState,
        state: tuple[str, int],
        *,
        first: Sequence[tuple[str, str]] = (),
        last: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.emit(name, [*first, *channel_headers(leg, state), *last])

    def emit_background_job(self, job_uuid: str, command: str, argument: str, body: str) -> None:
        headers = [("Job-UUID", job_uuid), ("Job-Command", command)]
        if argument:
            headers.append(("Job-Command-Arg", argument))
        self.emit("BACKGROUND_JOB", headers, body=body)
