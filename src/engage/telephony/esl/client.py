"""One inbound Event Socket connection to FreeSWITCH (we dial its TCP 8021): authentication, commands and
their replies, the event stream, and staying connected.

Invariants:
- Replies are matched to commands first in, first out. mod_event_socket answers the commands of one
  connection strictly in order (both `command/reply` and `api/response` complete the oldest pending command),
  so a command that timed out keeps its slot and its late reply is read and discarded: dropping the slot would
  hand every later reply to the wrong command.
- Every network wait is bounded: connecting and authenticating by `connect_timeout_seconds`, each command by
  `command_timeout_seconds` (EslTimeout), and, once HEARTBEAT is subscribed, the stream itself by
  `heartbeat_timeout_seconds` (silence that long means the connection is lost, even if TCP has not noticed).
- On a lost connection every pending command fails with EslConnectionLost (never hangs), `EslDisconnected` is
  queued, and the client reconnects on its own with exponential back-off and jitter, authenticates again,
  re-subscribes and re-applies its filters before queuing `EslConnected(reconnected=True)`. What happened
  while we were away is not replayed by the switch: the consumer reconciles (EslSwitch does).
- `close()` cancels and awaits every task this client started; none outlives it.

Backpressure: events go to a bounded queue (`max_queued_events`). When it is full the reader waits instead of
dropping, which stops it reading the socket, so TCP pushes back onto FreeSWITCH (which queues per listener).
Dropping is never an option: a lost CHANNEL_HANGUP_COMPLETE leaves a call active forever. The price is that
replies behind the waiting events wait too, so a consumer must not await a command from the same task that
drains the queue while the queue can be full; commands still time out rather than hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass

import structlog

from .codec import (
    API_RESPONSE,
    AUTH_REQUEST,
    COMMAND_REPLY,
    DISCONNECT_NOTICE,
    EVENT_JSON,
    EVENT_PLAIN,
    RUDE_REJECTION,
    EslProtocolError,
    Event,
    Frame,
    FrameDecoder,
    encode_command,
    parse_event,
)

log = structlog.get_logger("engage.telephony")

# mod_event_socket sends at most a few KiB per event; 64 KiB reads keep the number of wake-ups low under load.
_READ_SIZE = 1 << 16


class EslError(Exception):
    """Anything that went wrong talking to the switch."""


class EslAuthError(EslError):
    """The switch refused our password (or rejected us by ACL)."""


class EslCommandError(EslError):
    """The switch answered a command with `-ERR <reason>`; `reason` is its own words (e.g. USER_BUSY)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EslTimeout(EslError, TimeoutError):
    """No answer in time."""


class EslConnectionLost(EslError, ConnectionError):
    """The connection went away (or was never there) before the answer came."""


@dataclass(frozen=True, slots=True)
class EslConnected:
    """Queued once after `connect()`, and after each successful reconnection (`reconnected=True`)."""

    reconnected: bool


@dataclass(frozen=True, slots=True)
class EslDisconnected:
    reason: str


EslSignal = Event | EslConnected | EslDisconnected


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnection attempts: `initial_seconds` doubling up to `max_seconds`, each scaled by a
    random factor in [1 - jitter, 1 + jitter] so that many dialers do not reconnect in lockstep after a switch
    restart."""

    initial_seconds: float = 0.1
    max_seconds: float = 5.0
    jitter: float = 0.2

    def delays(self, rng: random.Random) -> Iterator[float]:
        delay = self.initial_seconds
        while True:
            yield max(0.0, delay * rng.uniform(1 - self.jitter, 1 + self.jitter))
            delay = min(delay * 2, self.max_seconds)


@dataclass(frozen=True, slots=True)
class _Target:
    host: str
    port: int
    password: str

    def __repr__(self) -> str:  # never print the password, whatever prints us
        return f"_Target(host={self.host!r}, port={self.port})"


class EslClient:
    def __init__(
        self,
        *,
        command_timeout_seconds: float = 5.0,
        connect_timeout_seconds: float = 5.0,
        # FreeSWITCH sends HEARTBEAT every 20 s by default: three missed beats is a dead connection.
        heartbeat_timeout_seconds: float | None = 60.0,
        backoff: Backoff | None = None,
        max_queued_events: int = 10_000,
        rng: random.Random | None = None,
    ) -> None:
        self._command_timeout = command_timeout_seconds
        self._connect_timeout = connect_timeout_seconds
        self._heartbeat_timeout = heartbeat_timeout_seconds
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._signals: asyncio.Queue[EslSignal | None] = asyncio.Queue(maxsize=max_queued_events)
        self._target: _Target | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[str] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._pending: deque[asyncio.Future[Frame]] = deque()
        self._jobs: dict[str, asyncio.Future[Event]] = {}
        self._event_names: list[str] = []
        self._custom_subclasses: list[str] = []
        self._filters: list[tuple[str, str]] = []
        self._drain_lock = asyncio.Lock()
        self._connected = False
        self._closed = False

    @property
    def connected(self) -> bool:
        return self._connected

    # -- connection ------------------------------------------------------------------------------------------

    async def connect(self, host: str, port: int, password: str) -> None:
        """Connect and authenticate once; raises EslAuthError, EslTimeout or OSError. From then on the client
        keeps itself connected until `close()`."""
        if self._target is not None:
            raise RuntimeError("already connected")
        target = self._target = _Target(host, port, password)
        try:
            reader = await self._open(target)
        except BaseException:
            self._target = None
            raise
        log.info("esl.connected", host=host, port=port)
        await self._signal(EslConnected(reconnected=False))
        self._supervisor = asyncio.create_task(self._supervise(target, reader), name="esl-supervisor")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._connected = False
        tasks = [task for task in (self._supervisor, self._read_task) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A reconnection cancelled mid-way may have started a reader after the list above was taken.
        if self._read_task is not None and not self._read_task.done():
            self._read_task.cancel()
            await asyncio.gather(self._read_task, return_exceptions=True)
        await self._close_writer()
        self._fail_pending("client closed")
        # Whoever still iterates `signals()` ends; events not yet consumed are of no use after close.
        while not self._signals.empty():
            self._signals.get_nowait()
        self._signals.put_nowait(None)
        log.info("esl.closed")

    async def _open(self, target: _Target) -> asyncio.Task[str]:
        """TCP connect, then `auth/request` → `auth <password>` → `+OK accepted`; starts the reader and returns
        its task (which ends with the reason the connection was lost)."""
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(target.host, target.port)
                decoder = FrameDecoder()
                early: deque[Frame] = deque()
                request = await self._next_frame(reader, decoder, early)
                if request.content_type == RUDE_REJECTION:
                    raise EslAuthError("the switch rejected this client (event socket ACL)")
                if request.content_type != AUTH_REQUEST:
                    raise EslProtocolError(f"expected auth/request, got {request.content_type!r}")
                writer.write(encode_command(f"auth {target.password}"))
                await writer.drain()
                reply = await self._next_frame(reader, decoder, early)
                if not (reply.headers.get("Reply-Text") or "").startswith("+OK"):
                    log.error("esl.auth_failed", host=target.host, port=target.port)
                    raise EslAuthError("the switch refused the password")
        except TimeoutError:
            if writer is not None:
                writer.close()
            raise EslTimeout(f"no ESL session with {target.host}:{target.port} in {self._connect_timeout}s") from None
        except BaseException:
            if writer is not None:
                writer.close()
            raise
        self._writer = writer
        self._connected = True
        self._read_task = asyncio.create_task(self._read_loop(reader, decoder, early), name="esl-reader")
        return self._read_task

    @staticmethod
    async def _next_frame(reader: asyncio.StreamReader, decoder: FrameDecoder, early: deque[Frame]) -> Frame:
        while not early:
            data = await reader.read(_READ_SIZE)
            if not data:
                raise EslConnectionLost("the switch closed the connection during the handshake")
            early.extend(decoder.feed(data))
        return early.popleft()

    async def _read_loop(self, reader: asyncio.StreamReader, decoder: FrameDecoder, early: deque[Frame]) -> str:
        """Runs until the connection is lost; returns why."""
        try:
            for frame in early:
                await self._dispatch(frame)
            while True:
                watchdog = self._heartbeat_timeout if self._watching_heartbeats() else None
                try:
                    data = await asyncio.wait_for(reader.read(_READ_SIZE), watchdog)
                except TimeoutError:
                    return f"nothing from the switch in {watchdog}s (heartbeat lost)"
                if not data:
                    return "closed by the switch"
                for frame in decoder.feed(data):
                    await self._dispatch(frame)
        except (OSError, EslProtocolError) as exc:
            return f"{type(exc).__name__}: {exc}"

    def _watching_heartbeats(self) -> bool:
        # Only a subscriber gets HEARTBEAT: without it a quiet switch is not a dead one.
        return self._heartbeat_timeout is not None and any(n in ("HEARTBEAT", "ALL") for n in self._event_names)

    async def _dispatch(self, frame: Frame) -> None:
        content_type = frame.content_type
        if content_type in (COMMAND_REPLY, API_RESPONSE):
            if not self._pending:
                log.warning("esl.unexpected_reply", content_type=content_type)
                return
            waiter = self._pending.popleft()
            if not waiter.done():  # done = timed out: its slot absorbs the late reply
                waiter.set_result(frame)
        elif content_type in (EVENT_PLAIN, EVENT_JSON):
            event = parse_event(frame)
            if event.name == "BACKGROUND_JOB":
                job = self._jobs.pop(event.get("Job-UUID") or "", None)
                if job is not None and not job.done():
                    job.set_result(event)
            await self._signal(event)
        elif content_type == DISCONNECT_NOTICE:
            log.info("esl.disconnect_notice")
        else:
            log.debug("esl.frame_ignored", content_type=content_type)

    async def _signal(self, item: EslSignal) -> None:
        if self._signals.full():
            log.warning("esl.backpressure", queued=self._signals.qsize())
        await self._signals.put(item)

    async def _supervise(self, target: _Target, reader: asyncio.Task[str]) -> None:
        while True:
            reason = await reader
            await self._lose(reason)
            reader = await self._reconnect(target)

    async def _lose(self, reason: str) -> None:
        self._connected = False
        await self._close_writer()
        self._fail_pending(reason)
        log.warning("esl.lost", reason=reason)
        await self._signal(EslDisconnected(reason))

    async def _reconnect(self, target: _Target) -> asyncio.Task[str]:
        """Retry with backoff until connected again; the new reader's task."""
        for attempt, delay in enumerate(self._backoff.delays(self._rng), start=1):
            await asyncio.sleep(delay)
            try:
                reader = await self._open(target)
                await self._restore()
            except (OSError, EslError, EslProtocolError) as exc:
                log.warning("esl.reconnect_failed", attempt=attempt, error=f"{type(exc).__name__}: {exc}")
                await self._discard_connection(str(exc))
                continue
            log.info("esl.reconnected", attempt=attempt)
            await self._signal(EslConnected(reconnected=True))
            return reader
        raise RuntimeError("Backoff.delays ended; it yields delays forever")

    async def _restore(self) -> None:
        """What the switch forgot with the old connection: subscriptions, then filters."""
        if self._event_names or self._custom_subclasses:
            self._expect_ok(await self._command(self._subscription_command()))
        for header, value in self._filters:
            self._expect_ok(await self._command(f"filter {header} {value}"))

    async def _discard_connection(self, reason: str) -> None:
        self._connected = False
        if self._read_task is not None and not self._read_task.done():
            self._read_task.cancel()
            try:
                await self._read_task
            except asyncio.CancelledError:
                # The reader's own cancellation ends here; this task's (`close()` cancelling a reconnection)
                # must not: swallowed, the reconnection loop went on and `close()` waited for it forever.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        await self._close_writer()
        self._fail_pending(reason)

    async def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError):
            # Bounded: a peer that never acknowledges the close must not hold us.
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        # wait_closed timing out is fine: the transport is closed locally either way.

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, deque()
        for waiter in pending:
            if not waiter.done():
                waiter.set_exception(EslConnectionLost(reason))
        jobs, self._jobs = self._jobs, {}
        for job in jobs.values():
            if not job.done():
                job.set_exception(EslConnectionLost(reason))

    # -- commands --------------------------------------------------------------------------------------------

    async def _command(
        self, line: str, headers: Sequence[tuple[str, str]] = (), *, timeout_seconds: float | None = None
    ) -> Frame:
        writer = self._writer
        if not self._connected or writer is None:
            raise EslConnectionLost("not connected to the switch")
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        # Appending the slot and writing the bytes happen with no await in between: FIFO order is wire order.
        self._pending.append(waiter)
        writer.write(encode_command(line, headers))
        timeout = self._command_timeout if timeout_seconds is None else timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                async with self._drain_lock:
                    await writer.drain()
                return await waiter
        except TimeoutError:
            waiter.cancel()
            verb = line.split(" ", 2)[:2]
            log.warning("esl.command_timeout", command=" ".join(verb), timeout_seconds=timeout)
            raise EslTimeout(f"no reply to {' '.join(verb)!r} in {timeout}s") from None
        except OSError as exc:
            waiter.cancel()
            raise EslConnectionLost(f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _expect_ok(frame: Frame) -> str:
        text = frame.headers.get("Reply-Text") or frame.text()
        if text.startswith("-ERR"):
            raise EslCommandError(text.removeprefix("-ERR").strip())
        return text

    async def api(self, command: str, *, timeout_seconds: float | None = None) -> str:
        """`api <command>`: the body of the response. Raises EslCommandError on `-ERR …`."""
        body = (await self._command(f"api {command}", timeout_seconds=timeout_seconds)).text()
        if body.startswith("-ERR"):
            raise EslCommandError(body.removeprefix("-ERR").strip())
        return body

    async def bgapi_start(self, command: str, *, job_uuid: str | None = None) -> str:
        """`bgapi <command>` with our own Job-UUID; returns once the switch accepted the job (its
        `+OK Job-UUID` reply), with the job's id. Its BACKGROUND_JOB event arrives with the other events (if
        BACKGROUND_JOB is subscribed: the switch sends it only to its listeners)."""
        job = job_uuid or str(uuid.uuid4())
        reply = await self._command(f"bgapi {command}", [("Job-UUID", job)])
        self._expect_ok(reply)
        return reply.headers.get("Job-UUID") or job

    async def bgapi(self, command: str, *, timeout_seconds: float | None = None) -> str:
        """`bgapi <command>` and wait for its BACKGROUND_JOB: the job's body (`+OK …`). Raises
        EslCommandError with the switch's cause on `-ERR <cause>`."""
        if not any(name in ("BACKGROUND_JOB", "ALL") for name in self._event_names):
            # The switch sends a job's result only to listeners of BACKGROUND_JOB.
            await self.subscribe(["BACKGROUND_JOB"])
        job = str(uuid.uuid4())
        result: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._jobs[job] = result
        timeout = self._command_timeout if timeout_seconds is None else timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                await self.bgapi_start(command, job_uuid=job)
                event = await result
        except EslTimeout:
            raise
        except TimeoutError:
            raise EslTimeout(f"no BACKGROUND_JOB for {command.split(' ', 1)[0]!r} in {timeout}s") from None
        finally:
            self._jobs.pop(job, None)
        body = (event.body or "").strip()
        if body.startswith("-ERR"):
            raise EslCommandError(body.removeprefix("-ERR").strip())
        return body

    async def subscribe(self, names: Iterable[str]) -> None:
        """`event plain <names>`, remembered and re-applied after a reconnection. Names after `CUSTOM` are
        subclasses (`["CHANNEL_ANSWER", "CUSTOM", "sofia::register"]`), as in FreeSWITCH's own syntax."""
        added_names: list[str] = []
        added_subclasses: list[str] = []
        custom = False
        for name in names:
            if not name or any(c.isspace() for c in name):
                raise ValueError(f"not an event name: {name!r}")
            if name == "CUSTOM":
                custom = True
            elif custom:
                if name not in self._custom_subclasses and name not in added_subclasses:
                    added_subclasses.append(name)
            elif name not in self._event_names and name not in added_names:
                added_names.append(name)
        self._event_names.extend(added_names)
        self._custom_subclasses.extend(added_subclasses)
        parts = [*added_names, *(["CUSTOM", *added_subclasses] if added_subclasses else [])]
        if not parts:
            return
        try:
            self._expect_ok(await self._command(f"event plain {' '.join(parts)}"))
        except EslCommandError:
            # Refused names would be refused again on every reconnection: forget them.
            self._event_names = [n for n in self._event_names if n not in added_names]
            self._custom_subclasses = [n for n in self._custom_subclasses if n not in added_subclasses]
            raise

    def _subscription_command(self) -> str:
        parts = list(self._event_names)
        if self._custom_subclasses:
            parts += ["CUSTOM", *self._custom_subclasses]
        return f"event plain {' '.join(parts)}"

    async def filter(self, header: str, value: str) -> None:
        """`filter <header> <value>`, remembered and re-applied after a reconnection. Mind FreeSWITCH's rule:
        once any filter is set, only events matching one of them are delivered."""
        if any(c.isspace() for c in header) or "\n" in value or not header or not value:
            raise ValueError("a filter is a header name without spaces and a one-line value")
        self._filters.append((header, value))
        try:
            self._expect_ok(await self._command(f"filter {header} {value}"))
        except EslCommandError:
            self._filters.remove((header, value))
            raise

    # -- events ----------------------------------------------------------------------------------------------

    async def signals(self) -> AsyncIterator[EslSignal]:
        """Events and connection changes, in the order they happened; ends after `close()`."""
        while True:
            item = await self._signals.get()
            if item is None:
                self._signals.put_nowait(None)  # let any other iterator end too
                return
            yield item
