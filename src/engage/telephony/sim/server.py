"""A FreeSWITCH stand-in: the server side of the Event Socket (mod_event_socket, inbound mode) on a real TCP
socket, with simulated callees behind it, so the production ESL client is the code under test.

What it owns: client connections (auth, event subscriptions in plain or json, filters), the api/bgapi commands a
dialer uses (originate, uuid_bridge, uuid_kill, uuid_exists, uuid_record, uuid_transfer, show channels, show
registrations, status), the live legs and their channel events, SIP registrations of agents' phones, heartbeats.

`uuid_transfer` is modelled for one destination only, an inline dialplan that plays a message and hangs up
(`'playback:<path>,hangup' inline`): the leg hangs up `message_seconds` later. Any other transfer of a live leg
answers +OK and changes nothing.

Simulator extensions (FreeSWITCH has no such commands: real phones register themselves over SIP), so that another
process can stand in for agents' phones over ESL (`telephony.sim.phones.SimPhones`):
- `api sim_register <sip_user>` → `+OK`: as `SwitchSimulator.register` (sofia::register; nothing if registered).
- `api sim_unregister <sip_user>` → `+OK`: as `SwitchSimulator.unregister` (sofia::unregister; nothing if not).

Invariants:
- Wire text is FreeSWITCH's own (replies, api bodies, event names, header names, causes): see the captures in
  /work/shared/esl-samples. Where the simulator deviates it says so here or at the spot.
- Event-Sequence is one counter for the whole switch, increasing by one per event created; every connection
  that receives an event sees the same number, so a connection sees increasing but not contiguous numbers.
- Frames go out in the order they are produced: every write is a synchronous `transport.write` on the loop.
  A command's reply always precedes the events it causes (the reply is written before the leg task starts).
- One task per live leg (none for a leg that fails before it exists), one per connection, one for heartbeats,
  and one per non-originate bgapi while it runs. Events fan out in O(connections); no threads, and no per-leg
  timers but one for a leg playing its message before an inline hangup.
- Randomness comes from one `random.Random(seed)`, four draws per originate in order, so a seeded run repeats
  given the same sequence of originates. Delays are asyncio sleeps; the wall clock is read only for timestamps.

Leniencies (so tests stay fast): `originate_timeout` accepts fractional seconds (FreeSWITCH reads an integer).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from engage.config import SimSettings
from engage.telephony.esl import codec

from .legs import (
    CS_CONSUME_MEDIA,
    CS_DESTROY,
    CS_EXCHANGE_MEDIA,
    CS_EXECUTE,
    CS_HANGUP,
    CS_INIT,
    CS_REPORTING,
    DEFAULT_ORIGINATE_TIMEOUT_SECONDS,
    FAILURE_CAUSE,
    SHOW_CHANNELS_COLUMNS,
    TRANSFER_USAGE,
    LegState,
    OriginateError,
    Outcome,
    Recording,
    cdr_headers,
    channel_headers,
    parse_originate,
    parse_transfer,
    show_channels_row,
)
from .recording import write_wav

__all__ = ["Behaviour", "LegState", "Outcome", "SwitchSimulator", "parse_range"]

log = structlog.get_logger("engage.sim")

HOSTNAME = "engage-sim"
IPV4 = "127.0.0.1"
SIP_DOMAIN = "127.0.0.1"
VERSION = "1.10.3-release git e52b1a8 2020-09-09 12:16:24Z 64bit"
MAX_SESSIONS = 10000
# mod_event_socket's goodbye (67 bytes, as in the karan-2023-replies capture).
DISCONNECT_TEXT = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
MAX_COMMAND_BYTES = 1 << 20
READ_CHUNK = 65536
# How long stop() and drop_connections() wait for tasks to wind down before giving up on them.
SHUTDOWN_TIMEOUT_SECONDS = 5.0
REGISTRATION_EXPIRES_SECONDS = 3600

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


def parse_range(text: str) -> tuple[float, float]:
    """`"2-8"` → (2.0, 8.0); a single number is a fixed duration."""
    low_text, separator, high_text = text.strip().partition("-")
    try:
        low = float(low_text)
        high = float(high_text) if separator else low
    except ValueError as exc:
        raise ValueError(f"not a range of seconds: {text!r} (expected e.g. '2-8')") from exc
    if low < 0 or high < low:
        raise ValueError(f"not a range of seconds: {text!r} (expected 0 <= low <= high)")
    return low, high


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How simulated callees behave. Rates are fractions of calls; the rest (1 - answer - busy - voicemail) ring
    out as no answer. Ring and talk times are drawn uniformly in their ranges (seconds)."""

    answer_rate: float = 0.35
    busy_rate: float = 0.10
    voicemail_rate: float = 0.05
    ring_seconds: tuple[float, float] = (2.0, 8.0)
    talk_seconds: tuple[float, float] = (20.0, 120.0)
    seed: int | None = None

    def __post_init__(self) -> None:
        rates = (self.answer_rate, self.busy_rate, self.voicemail_rate)
        if any(rate < 0 or rate > 1 for rate in rates) or sum(rates) > 1 + 1e-9:
            raise ValueError("answer, busy and voicemail rates must be within 0-1 and add up to at most 1")
        for low, high in (self.ring_seconds, self.talk_seconds):
            if low < 0 or high < low:
                raise ValueError("ring and talk ranges need 0 <= low <= high")

    @classmethod
    def from_settings(cls, sim: SimSettings) -> Behaviour:
        return cls(
            answer_rate=sim.answer_rate,
            busy_rate=sim.busy_rate,
            voicemail_rate=sim.voicemail_rate,
            ring_seconds=parse_range(sim.ring_seconds),
            talk_seconds=parse_range(sim.talk_seconds),
            seed=sim.seed,
        )


DEFAULT_BEHAVIOUR = Behaviour()


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


@dataclass(slots=True)
class _Event:
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


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    task: asyncio.Task[None] | None = None
    authed: bool = False
    closing: bool = False
    format: str | None = None  # "plain" | "json" once `event` was sent
    all_events: bool = False
    events: set[str] = field(default_factory=set)
    subclasses: set[str] = field(default_factory=set)
    filters: list[tuple[str, str]] = field(default_factory=list)

    def send(self, data: bytes) -> None:
        if not self.writer.transport.is_closing():
            self.writer.write(data)

    def reply(self, text: str, *extra: tuple[str, str]) -> None:
        self.send(codec.encode_frame([("Content-Type", codec.COMMAND_REPLY), ("Reply-Text", text), *extra]))

    def wants(self, event: _Event) -> bool:
        """mod_event_socket's event_handler: ALL takes everything; CUSTOM needs the subclass subscribed; then
        any filter (header equals value) must match when filters are set."""
        if self.format is None:
            return False
        if not self.all_events:
            if event.name not in self.events:
                return False
            if event.name == "CUSTOM" and event.subclass not in self.subclasses:
                return False
        if self.filters:
            return any(event.header(name) == value for name, value in self.filters)
        return True


@dataclass(slots=True)
class _Registration:
    call_id: str
    network_port: int
    registered_us: int


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def _duration_text(seconds: float) -> str:
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


class SwitchSimulator:
    def __init__(
        self,
        *,
        password: str,
        behaviour: Behaviour = DEFAULT_BEHAVIOUR,
        recordings_dir: Path | None = None,
        heartbeat_seconds: float = 20.0,
        message_seconds: float = 3.0,
    ) -> None:
        if not password:
            raise ValueError("the switch simulator needs a password")
        if message_seconds < 0:
            raise ValueError("a message lasts 0 seconds or more")
        self._password = password
        # How long a message played before an inline hangup lasts (uuid_transfer 'playback:…,hangup' inline).
        self._message_seconds = message_seconds
        self._behaviour = behaviour
        self._recordings_dir = recordings_dir.resolve() if recordings_dir is not None else None
        self._heartbeat_seconds = heartbeat_seconds
        self._rng = random.Random(behaviour.seed)  # noqa: S311 - simulation, not security
        self._core_uuid = str(uuid.uuid4())
        self._sequence = 0
        self._legs: dict[str, LegState] = {}
        self._leg_tasks: set[asyncio.Task[None]] = set()
        self._job_tasks: set[asyncio.Task[None]] = set()
        self._connections: set[_Connection] = set()
        self._registrations: dict[str, _Registration] = {}
        self._forced: dict[str, deque[Outcome]] = {}
        self._server: asyncio.Server | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._heartbeats_paused = False
        self._started_loop = 0.0
        self._sessions_since_startup = 0
        self._peak_sessions = 0

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        if self._server is not None:
            raise RuntimeError("the switch simulator is already started")
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_COMMAND_BYTES)
        self._started_loop = asyncio.get_running_loop().time()
        self._heartbeat_task = asyncio.create_task(self._heartbeats(), name="sim-heartbeats")
        bound: int = self._server.sockets[0].getsockname()[1]
        log.info("sim.started", host=host, port=bound)
        return bound

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in self._connections:
            connection.writer.transport.abort()
        # Connection tasks end by themselves once their socket is aborted; cancelling one instead makes asyncio's
        # stream callback log the CancelledError as an error (a traceback on every Ctrl-C of `engage serve`).
        serving = [c.task for c in self._connections if c.task is not None and c.task is not asyncio.current_task()]
        if serving:
            _, stuck = await asyncio.wait(serving, timeout=SHUTDOWN_TIMEOUT_SECONDS)
            for task in stuck:
                task.cancel()
        tasks = [*self._leg_tasks, *self._job_tasks]
        if self._heartbeat_task is not None:
            tasks.append(self._heartbeat_task)
            self._heartbeat_task = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_SECONDS)
        for leg in self._legs.values():
            if leg.message_timer is not None:
                leg.message_timer.cancel()
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), SHUTDOWN_TIMEOUT_SECONDS)
        self._legs.clear()
        self._connections.clear()
        log.info("sim.stopped")

    # -- test hooks and registrations ---------------------------------------------------------------------------

    def register(self, sip_user: str) -> None:
        """An agent's phone registers (sofia::register). A phone already registered stays as it is, silently:
        the simulator models a registration's existence, not its refreshes."""
        if sip_user in self._registrations:
            return
        port = 5062 + len(self._registrations)
        registration = _Registration(f"{uuid.uuid4()}@{IPV4}", port, _now_us())
        self._registrations[sip_user] = registration
        self._emit_registration("sofia::register", sip_user, registration)

    def unregister(self, sip_user: str) -> None:
        registration = self._registrations.pop(sip_user, None)
        if registration is not None:
            self._emit_registration("sofia::unregister", sip_user, registration)

    def registered(self) -> set[str]:
        return set(self._registrations)

    def force_outcome(self, destination: str, outcome: str) -> None:
        """The next call to `destination` ends as `outcome` (answer, busy, no_answer, voicemail, rejected,
        unallocated, no_user_response); several calls queue in order."""
        self._forced.setdefault(destination, deque()).append(Outcome(outcome))

    async def drop_connections(self) -> None:
        """Abort every client socket, as a network failure would; legs carry on."""
        connections = list(self._connections)
        for connection in connections:
            connection.writer.transport.abort()
        tasks = [c.task for c in connections if c.task is not None and not c.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_SECONDS)

    def pause_heartbeats(self, paused: bool = True) -> None:
        self._heartbeats_paused = paused

    @property
    def legs(self) -> dict[str, LegState]:
        return self._legs

    # -- connections --------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer, task=asyncio.current_task())
        self._connections.add(connection)
        decoder = CommandDecoder()
        try:
            connection.send(codec.encode_frame([("Content-Type", codec.AUTH_REQUEST)]))
            while not connection.closing:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                for command in decoder.feed(data):
                    await self._execute(connection, command)
                    if connection.closing:
                        break
                await writer.drain()
        except (ConnectionError, codec.EslProtocolError) as exc:
            log.debug("sim.connection_lost", error=str(exc))
        finally:
            self._connections.discard(connection)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), SHUTDOWN_TIMEOUT_SECONDS)

    def _hang_up_connection(self, connection: _Connection) -> None:
        connection.send(codec.encode_frame([("Content-Type", codec.DISCONNECT_NOTICE)], DISCONNECT_TEXT.encode()))
        connection.closing = True

    async def _execute(self, connection: _Connection, command: Command) -> None:
        verb, _, rest = command.line.partition(" ")
        verb = verb.lower()
        rest = rest.strip()
        if not connection.authed:
            # mod_event_socket answers anything but `auth` with "command not found" until authenticated.
            if verb != "auth":
                connection.reply("-ERR command not found")
            elif hmac.compare_digest(rest.encode(), self._password.encode()):
                connection.authed = True
                connection.reply("+OK accepted")
            else:
                connection.reply("-ERR invalid")
                self._hang_up_connection(connection)
            return
        if verb == "api":
            body = await self._api(rest)
            connection.send(codec.encode_frame([("Content-Type", codec.API_RESPONSE)], body.encode()))
        elif verb == "bgapi":
            job_uuid = command.headers.get("Job-UUID") or str(uuid.uuid4())
            connection.reply(f"+OK Job-UUID: {job_uuid}", ("Job-UUID", job_uuid))
            self._background(job_uuid, rest)
        elif verb == "event":
            self._subscribe(connection, rest)
        elif verb == "nixevent":
            for name in rest.split():
                connection.events.discard(name.upper())
                connection.subclasses.discard(name)
            connection.reply("+OK events nixed")
        elif verb == "noevents":
            connection.format = None
            connection.all_events = False
            connection.events.clear()
            connection.subclasses.clear()
            connection.reply("+OK no longer listening for events")
        elif verb == "filter":
            self._filter(connection, rest)
        elif verb == "sendmsg":
            self._sendmsg(connection, rest, command.headers)
        elif verb == "linger":
            connection.reply("+OK will linger")
        elif verb == "nolinger":
            connection.reply("+OK will not linger")
        elif verb == "exit":
            connection.reply("+OK bye")
            self._hang_up_connection(connection)
        else:
            connection.reply("-ERR command not found")

    def _subscribe(self, connection: _Connection, text: str) -> None:
        words = text.split()
        fmt = words[0].lower() if words else ""
        if fmt not in ("plain", "json"):
            connection.reply("-ERR invalid format (the simulator speaks plain and json)")
            return
        connection.format = fmt
        custom = False
        for word in words[1:]:
            if custom:
                connection.subclasses.add(word)
            elif word.upper() == "ALL":
                connection.all_events = True
            elif word.upper() == "CUSTOM":
                custom = True
                connection.events.add("CUSTOM")
            else:
                connection.events.add(word.upper())
        connection.reply(f"+OK event listener enabled {fmt}")

    def _filter(self, connection: _Connection, text: str) -> None:
        deleting = text.split(" ", 1)[0].lower() == "delete"
        if deleting:
            text = text.split(" ", 1)[1] if " " in text else ""
        name, _, value = text.partition(" ")
        value = value.strip()
        if not name or (not value and not deleting):
            connection.reply("-ERR invalid syntax")
        elif deleting:
            connection.filters = [f for f in connection.filters if not (f[0] == name and value in ("", f[1]))]
            connection.reply(f"+OK filter deleted. [{name}]=[{value}]")
        else:
            connection.filters.append((name, value))
            connection.reply(f"+OK filter added. [{name}]=[{value}]")

    def _sendmsg(self, connection: _Connection, text: str, headers: codec.Headers) -> None:
        leg_uuid = text.strip() or headers.get("Unique-ID") or ""
        leg = self._legs.get(leg_uuid)
        if leg is None:
            connection.reply(f"-ERR invalid session id [{leg_uuid}]")
            return
        if (headers.get("call-command") or "").lower() == "hangup":
            self._kill(leg, headers.get("hangup-cause") or "NORMAL_CLEARING")
        connection.reply("+OK")

    # -- api ----------------------------------------------------------------------------------------------------

    def _background(self, job_uuid: str, text: str) -> None:
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        if name == "originate":
            try:
                self._originate(argument, job=(job_uuid, argument))
            except OriginateError as exc:
                self._emit_background_job(job_uuid, name, argument, str(exc))
            return

        async def run() -> None:
            self._emit_background_job(job_uuid, name, argument, await self._api(text))

        task = asyncio.create_task(run(), name=f"sim-bgapi-{job_uuid}")
        self._job_tasks.add(task)
        task.add_done_callback(self._job_tasks.discard)

    async def _api(self, text: str) -> str:
        name, _, argument = text.strip().partition(" ")
        argument = argument.strip()
        args = argument.split()
        if name == "originate":
            try:
                leg = self._originate(argument, job=None)
            except OriginateError as exc:
                return str(exc)
            assert leg.result is not None
            return await leg.result
        if name == "status":
            return self._status()
        if name == "uuid_exists":
            return "true" if args and args[0] in self._legs else "false"
        if name == "uuid_kill":
            target = self._legs.get(args[0]) if args else None
            if target is None:
                return "-ERR No such channel!\n"
            self._kill(target, args[1] if len(args) > 1 else "NORMAL_CLEARING")
            return "+OK\n"
        if name == "uuid_bridge":
            return self._bridge(args)
        if name == "uuid_transfer":
            return self._transfer(argument)
        if name in ("sim_register", "sim_unregister"):
            if len(args) != 1:
                return f"-USAGE: {name} <sip_user>\n"
            if name == "sim_register":
                self.register(args[0])
            else:
                self.unregister(args[0])
            return "+OK\n"
        if name == "uuid_record":
            return await self._record(args)
        if name == "show":
            return self._show(args)
        if name == "hostname":
            return HOSTNAME
        if name == "version":
            return f"FreeSWITCH Version {VERSION} (1.10.3-release git e52b1a8 2020-09-09 12:16:24Z 64bit)\n"
        return f"-ERR {name} Command not found!\n"

    def _status(self) -> str:
        uptime = asyncio.get_running_loop().time() - self._started_loop
        live = len(self._legs)
        return (
            f"UP {_duration_text(uptime)}\n"
            f"FreeSWITCH (Version {VERSION}) is ready\n"
            f"{self._sessions_since_startup} session(s) since startup\n"
            f"{live} session(s) - peak {self._peak_sessions}, last 5min {self._peak_sessions}\n"
            f"0 session(s) per Sec out of max 30, peak 0, last 5min 0\n"
            f"{MAX_SESSIONS} session(s) max\n"
            "min idle cpu 0.00/99.00\n"
            "Current Stack Size/Max 240K/8192K\n"
        )

    def _show(self, args: Sequence[str]) -> str:
        what = args[0].lower() if args else ""
        if what == "channels":
            if len(args) > 1 and args[1].lower() == "count":
                return f"\n{len(self._legs)} total.\n"
            rows = [
                show_channels_row(
                    leg,
                    created_local=datetime.fromtimestamp(leg.created_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    hostname=HOSTNAME,
                    state="CS_EXECUTE" if leg.answered else "CS_CONSUME_MEDIA",
                )
                for leg in self._legs.values()
            ]
            return self._table(SHOW_CHANNELS_COLUMNS, rows)
        if what == "registrations":
            rows = [
                f"{user},{SIP_DOMAIN},{r.call_id},sofia/internal/sip:{user}@{IPV4}:{r.network_port},"
                f"{r.registered_us // 1_000_000 + REGISTRATION_EXPIRES_SECONDS},{IPV4},{r.network_port},udp,"
                f"{HOSTNAME},"
                for user, r in self._registrations.items()
            ]
            return self._table(
                "reg_user,realm,token,url,expires,network_ip,network_port,network_proto,hostname,metadata", rows
            )
        return "-USAGE: calls|channels [count]|registrations\n"

    @staticmethod
    def _table(columns: str, rows: Sequence[str]) -> str:
        """FreeSWITCH's `show` layout: the column line only when there are rows, a blank line, `N total.`."""
        if not rows:
            return "\n0 total.\n"
        return columns + "\n" + "".join(f"{row}\n" for row in rows) + f"\n{len(rows)} total.\n"

    # -- legs ---------------------------------------------------------------------------------------------------

    def _draw(self, destination: str) -> tuple[Outcome, float, float, float]:
        behaviour = self._behaviour
        # Four draws for every originate, forced or not, so that forcing one call leaves the others' draws alone.
        roll = self._rng.random()
        ring = self._rng.uniform(*behaviour.ring_seconds)
        talk = self._rng.uniform(*behaviour.talk_seconds)
        low = behaviour.talk_seconds[0]
        voicemail_talk = self._rng.uniform(low / 2, low)
        forced = self._forced.get(destination)
        if forced:
            outcome = forced.popleft()
            if not forced:
                del self._forced[destination]
        elif roll < behaviour.answer_rate:
            outcome = Outcome.answer
        elif roll < behaviour.answer_rate + behaviour.busy_rate:
            outcome = Outcome.busy
        elif roll < behaviour.answer_rate + behaviour.busy_rate + behaviour.voicemail_rate:
            outcome = Outcome.voicemail
        else:
            outcome = Outcome.no_answer
        return outcome, ring, talk, voicemail_talk

    def _originate(self, argument: str, *, job: tuple[str, str] | None) -> LegState:
        request = parse_originate(argument)
        variables = request.variables
        if request.to_agent and request.destination not in self._registrations:
            raise OriginateError("-ERR SUBSCRIBER_ABSENT\n")
        leg_uuid = variables.get("origination_uuid") or str(uuid.uuid4())
        if leg_uuid in self._legs:
            raise OriginateError("-ERR DESTINATION_OUT_OF_ORDER\n")
        outcome, ring, talk, voicemail_talk = self._draw(request.destination)
        try:
            timeout = float(variables.get("originate_timeout", DEFAULT_ORIGINATE_TIMEOUT_SECONDS))
        except ValueError:
            timeout = DEFAULT_ORIGINATE_TIMEOUT_SECONDS
        if timeout <= 0:
            timeout = DEFAULT_ORIGINATE_TIMEOUT_SECONDS
        loop = asyncio.get_running_loop()
        caller_number = variables.get("origination_caller_id_number", "0000000000")
        leg = LegState(
            uuid=leg_uuid,
            endpoint=request.endpoint,
            destination=request.destination,
            caller_id_number=caller_number,
            caller_id_name=variables.get("origination_caller_id_name", caller_number),
            variables=dict(variables),
            to_agent=request.to_agent,
            outcome=Outcome.answer if request.to_agent else outcome,
            ring_seconds=ring,
            talk_seconds=voicemail_talk if outcome is Outcome.voicemail else talk,
            originate_timeout_seconds=timeout,
            created_us=_now_us(),
            created_loop=loop.time(),
            application=request.application,
            kill=loop.create_future(),
            result=loop.create_future(),
            job=job,
        )
        self._legs[leg_uuid] = leg
        self._sessions_since_startup += 1
        self._peak_sessions = max(self._peak_sessions, len(self._legs))
        task = asyncio.create_task(self._run_leg(leg), name=f"sim-leg-{leg_uuid}")
        self._leg_tasks.add(task)
        task.add_done_callback(self._leg_done)
        return leg

    def _leg_done(self, task: asyncio.Task[None]) -> None:
        self._leg_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sim.leg_failed", error=repr(task.exception()))

    @staticmethod
    async def _hold(leg: LegState, seconds: float) -> str | None:
        """Wait `seconds`, or less if the leg is killed: then the kill's cause."""
        assert leg.kill is not None
        if not leg.kill.done():
            await asyncio.wait((leg.kill,), timeout=seconds)
        return leg.kill.result() if leg.kill.done() else None

    @staticmethod
    def _killed(leg: LegState) -> str | None:
        return leg.kill.result() if leg.kill is not None and leg.kill.done() else None

    def _kill(self, leg: LegState, cause: str) -> None:
        if leg.kill is not None and not leg.kill.done():
            leg.kill.set_result(cause)

    async def _run_leg(self, leg: LegState) -> None:
        self._emit_channel("CHANNEL_CREATE", leg, CS_INIT)
        cause: str | None
        if leg.to_agent:
            # An agent's registered phone answers at once (DESIGN.md §2).
            await asyncio.sleep(0)
            cause = self._killed(leg)
            if cause is None:
                self._answer(leg)
                assert leg.kill is not None
                cause = await leg.kill
        else:
            cause = await self._ring(leg)
            if cause is None:
                self._answer(leg)
                cause = await self._hold(leg, leg.talk_seconds) or "NORMAL_CLEARING"
        await self._hang_up(leg, cause)

    async def _ring(self, leg: LegState) -> str | None:
        """None when the callee answers, else the cause the leg ends with."""
        outcome, timeout = leg.outcome, leg.originate_timeout_seconds
        if outcome is Outcome.unallocated:
            # A 404 comes back as soon as the carrier routes the number: no ringing.
            return await self._hold(leg, min(leg.ring_seconds / 10, timeout)) or FAILURE_CAUSE[outcome]
        if outcome is Outcome.no_user_response:
            return await self._hold(leg, timeout) or FAILURE_CAUSE[outcome]
        # The 180 Ringing comes back a moment after the INVITE.
        await asyncio.sleep(0)
        killed = self._killed(leg)
        if killed:
            return killed
        self._progress(leg)
        if outcome is Outcome.no_answer:
            return await self._hold(leg, timeout) or FAILURE_CAUSE[outcome]
        if leg.ring_seconds >= timeout:
            return await self._hold(leg, timeout) or "NO_ANSWER"
        killed = await self._hold(leg, leg.ring_seconds)
        if killed:
            return killed
        return FAILURE_CAUSE.get(outcome)

    def _progress(self, leg: LegState) -> None:
        leg.call_state = "RINGING"
        leg.progress_us = _now_us()
        leg.progress_loop = asyncio.get_running_loop().time()
        self._emit_channel("CHANNEL_PROGRESS", leg, CS_CONSUME_MEDIA)

    def _answer(self, leg: LegState) -> None:
        leg.answer_state = "answered"
        leg.call_state = "ACTIVE"
        leg.answered_us = _now_us()
        leg.answered_loop = asyncio.get_running_loop().time()
        if not leg.to_agent:
            machine = leg.outcome is Outcome.voicemail
            # What an AMD module (mod_amd) leaves on the channel, plus an explicit marker of the simulator's own.
            leg.variables["amd_result"] = "MACHINE" if machine else "HUMAN"
            leg.variables["engage_sim_voicemail"] = "true" if machine else "false"
        self._emit_channel("CHANNEL_ANSWER", leg, CS_CONSUME_MEDIA)
        # originate returns once the leg answers; &park() runs after that (switchio capture: BACKGROUND_JOB,
        # then CHANNEL_PARK).
        self._resolve(leg, f"+OK {leg.uuid}\n")
        self._emit_channel("CHANNEL_PARK", leg, CS_EXECUTE)

    def _resolve(self, leg: LegState, text: str) -> None:
        if leg.result is None or leg.result.done():
            return
        leg.result.set_result(text)
        if leg.job is not None:
            job_uuid, argument = leg.job
            self._emit_background_job(job_uuid, "originate", argument, text)

    async def _hang_up(self, leg: LegState, cause: str) -> None:
        if leg.message_timer is not None:
            leg.message_timer.cancel()
        leg.hangup_cause = cause
        leg.answer_state = "hangup"
        leg.call_state = "HANGUP"
        leg.hangup_us = _now_us()
        ended_loop = asyncio.get_running_loop().time()
        self._emit_channel("CHANNEL_HANGUP", leg, CS_HANGUP, first=[("Hangup-Cause", cause)])
        if leg.recording is not None:
            await self._stop_recording(leg)
        self._resolve(leg, f"-ERR {cause}\n")
        partner = self._legs.get(leg.bridged_with) if leg.bridged_with else None
        if partner is not None:
            self._kill(partner, "NORMAL_CLEARING")
        # Current FreeSWITCH puts Hangup-Cause twice on HANGUP_COMPLETE (the codec keeps both).
        self._emit_channel(
            "CHANNEL_HANGUP_COMPLETE",
            leg,
            CS_REPORTING,
            first=[("Hangup-Cause", cause)],
            last=[("Hangup-Cause", cause), *cdr_headers(leg, ended_loop)],
        )
        self._legs.pop(leg.uuid, None)
        self._emit_channel("CHANNEL_DESTROY", leg, CS_DESTROY)

    def _bridge(self, args: Sequence[str]) -> str:
        if len(args) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        a, b = self._legs.get(args[0]), self._legs.get(args[1])
        if a is None or b is None or a is b or not (a.answered and b.answered):
            return "-ERR Invalid uuid\n"
        if a.answer_state == "hangup" or b.answer_state == "hangup":
            return "-ERR Invalid uuid\n"
        for leg in (a, b):
            previous = self._legs.get(leg.bridged_with) if leg.bridged_with else None
            if previous is not None and previous not in (a, b):
                self._emit_channel("CHANNEL_UNBRIDGE", leg, CS_EXECUTE)
                previous.bridged_with = None
        now = _now_us()
        a.bridged_with, b.bridged_with = b.uuid, a.uuid
        a.bridged_us = b.bridged_us = now
        a.application = b.application = "uuid_bridge"
        self._emit_channel("CHANNEL_BRIDGE", a, CS_EXCHANGE_MEDIA)
        return f"+OK {b.uuid}\n"

    def _transfer(self, argument: str) -> str:
        request = parse_transfer(argument)
        if request is None:
            return TRANSFER_USAGE
        leg = self._legs.get(request.uuid)
        if leg is None:
            return "-ERR No such channel!\n"
        cause = request.message_then_hangup()
        if cause is not None and leg.answer_state != "hangup":
            if leg.message_timer is not None:
                leg.message_timer.cancel()
            leg.application = "playback"
            leg.message_timer = asyncio.get_running_loop().call_later(self._message_seconds, self._kill, leg, cause)
        return "+OK\n"

    # -- recording ----------------------------------------------------------------------------------------------

    def _recording_path(self, text: str) -> Path | None:
        path = Path(text)
        if self._recordings_dir is None:
            return path if path.is_absolute() else None
        resolved = (self._recordings_dir / path).resolve()
        return resolved if resolved.is_relative_to(self._recordings_dir) else None

    async def _record(self, args: Sequence[str]) -> str:
        if len(args) < 3 or args[1].lower() not in ("start", "stop"):
            return "-USAGE: <uuid> [start|stop] <path> [<limit>]\n"
        leg = self._legs.get(args[0])
        if leg is None or leg.answer_state == "hangup":
            return "-ERR Cannot locate session!\n"
        if args[1].lower() == "start":
            path = self._recording_path(args[2])
            if path is None or leg.recording is not None:
                return "-ERR Cannot execute record\n"
            leg.recording = Recording(str(path), asyncio.get_running_loop().time())
            self._emit_channel("RECORD_START", leg, CS_EXECUTE, last=[("Record-File-Path", str(path))])
            return "+OK Success\n"
        recording = leg.recording
        same_file = recording is not None and (
            args[2] in ("all", recording.path) or self._recording_path(args[2]) == Path(recording.path)
        )
        if not same_file:
            return "-ERR Cannot stop record session!\n"
        await self._stop_recording(leg)
        return "+OK Success\n"

    async def _stop_recording(self, leg: LegState) -> None:
        recording, leg.recording = leg.recording, None
        if recording is None:
            return
        seconds = asyncio.get_running_loop().time() - recording.started_at
        samples = await asyncio.to_thread(write_wav, Path(recording.path), seconds)
        leg.variables["record_seconds"] = str(int(seconds))
        leg.variables["record_ms"] = str(int(seconds * 1000))
        leg.variables["record_samples"] = str(samples)
        self._emit_channel("RECORD_STOP", leg, CS_EXECUTE, last=[("Record-File-Path", recording.path)])

    # -- events -------------------------------------------------------------------------------------------------

    def _emit(
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
        event = _Event(name, subclass, [*base, *headers], body)
        for connection in tuple(self._connections):
            if connection.authed and connection.wants(event):
                assert connection.format is not None
                connection.send(event.encoded(connection.format))

    def _emit_channel(
        self,
        name: str,
        leg: LegState,
        state: tuple[str, int],
        *,
        first: Sequence[tuple[str, str]] = (),
        last: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._emit(name, [*first, *channel_headers(leg, state), *last])

    def _emit_background_job(self, job_uuid: str, command: str, argument: str, body: str) -> None:
        headers = [("Job-UUID", job_uuid), ("Job-Command", command)]
        if argument:
            headers.append(("Job-Command-Arg", argument))
        self._emit("BACKGROUND_JOB", headers, body=body)

    def _emit_registration(self, subclass: str, sip_user: str, registration: _Registration) -> None:
        contact = f'"{sip_user}" <sip:{sip_user}@{IPV4}:{registration.network_port}>'
        headers = [
            ("profile-name", "internal"),
            ("from-user", sip_user),
            ("from-host", SIP_DOMAIN),
            ("presence-hosts", SIP_DOMAIN),
            ("contact", contact),
            ("call-id", registration.call_id),
            ("rpid", "unknown"),
            ("status", "Registered(UDP)" if subclass == "sofia::register" else "Unregistered"),
            ("expires", str(REGISTRATION_EXPIRES_SECONDS) if subclass == "sofia::register" else "0"),
            ("to-user", sip_user),
            ("to-host", SIP_DOMAIN),
            ("network-ip", IPV4),
            ("network-port", str(registration.network_port)),
            ("username", sip_user),
            ("realm", SIP_DOMAIN),
            ("user-agent", "Engage-Sim-Phone/1.0"),
        ]
        self._emit("CUSTOM", headers, subclass=subclass)

    async def _heartbeats(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            if self._heartbeats_paused:
                continue
            uptime = loop.time() - self._started_loop
            self._emit(
                "HEARTBEAT",
                [
                    ("Event-Info", "System Ready"),
                    ("Up-Time", _duration_text(uptime)),
                    ("FreeSWITCH-Version", VERSION.split(" ", 1)[0]),
                    ("Uptime-msec", str(int(uptime * 1000))),
                    ("Session-Count", str(len(self._legs))),
                    ("Max-Sessions", str(MAX_SESSIONS)),
                    ("Session-Per-Sec", "30"),
                    ("Session-Per-Sec-Last", "0"),
                    ("Session-Per-Sec-Max", "0"),
                    ("Session-Per-Sec-FiveMin", "0"),
                    ("Session-Since-Startup", str(self._sessions_since_startup)),
                    ("Session-Peak-Max", str(self._peak_sessions)),
                    ("Session-Peak-FiveMin", str(self._peak_sessions)),
                    ("Idle-CPU", "99.000000"),
                ],
            )
