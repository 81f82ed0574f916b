"""The event hub: one per API process, it reads the outbox once for every stream the process serves.

It keeps a cursor `(xid, id)` and reads every tenant's final events after it, in order, through
`engage_events_after` (repository): at once when the outbox's notification arrives on its own LISTEN connection,
and every `poll_seconds` whatever happens, so a lost connection or a missed notification delays nothing by more
than that. Each event is handed to the subscriptions of its tenant that want it, in memory.

Invariants:
- Exactly once, in order: a subscription registered when the cursor is C receives, live, exactly the events after
  C (its replay reads the ones up to C). `subscribe` reads the cursor and registers in one step, with no await
  between; the hub moves the cursor and fans out in one step too.
- The hub never waits for a client: each subscription has a bounded queue, and one that is full is closed (the
  client resumes from its last event id and catches up from the database).
- A dead LISTEN connection is replaced with back-off (0.5 s doubling to 30 s) while polling keeps delivering.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType

import asyncpg
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.db import unscoped_transaction

from . import repository, wire
from .filters import EventFilter
from .metrics import STREAMS_OVERFLOWED
from .repository import Cursor, OutboxRow

log = structlog.get_logger("engage.events")

# Rows per read of the outbox; a burst larger than this is read in several pages, in order.
PAGE_SIZE = 500
# The LISTEN connection is asked a `SELECT 1` this often: a peer that vanished without closing the socket is
# noticed within a minute, not at the next TCP timeout (hours).
PING_SECONDS = 30.0
RECONNECT_MIN_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0
_LISTEN_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Subscription:
    """One stream's place at the hub: the events of its tenant that its filter wants, after `floor`, as SSE
    frames in a bounded queue; `None` in the queue, or `closed` once the queue is empty, ends the stream."""

    __slots__ = ("closed", "floor", "only", "overflowed", "queue", "tenant_id")

    def __init__(self, tenant_id: uuid.UUID, only: EventFilter, floor: Cursor | None, queue_size: int) -> None:
        self.tenant_id = tenant_id
        self.only = only
        # Events at or before it are skipped: the client resumed from a point the hub had not reached yet.
        self.floor = floor
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_size)
        self.closed = False
        self.overflowed = False

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            # A full queue needs no wake-up: its reader is not waiting, and it stops once the queue is empty.
            self.queue.put_nowait(None)


class EventHub:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        listen_dsn: str,
        *,
        queue_size: int = 1000,
        poll_seconds: float = 1.0,
        page_size: int = PAGE_SIZE,
        exiting: Callable[[], bool] | None = None,
    ) -> None:
        self._sessions = sessions
        self._dsn = listen_dsn
        self._queue_size = queue_size
        self._poll_seconds = poll_seconds
        self._page_size = page_size
        # The server is shutting down (uvicorn's `should_exit`): open streams are ended so that the server's
        # graceful shutdown, which waits for every response to finish, can finish.
        self._exiting = exiting
        self._cursor = Cursor.before(0)
        self._subscriptions: dict[uuid.UUID, set[Subscription]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: asyncpg.Connection | None = None
        self._accepting = False

    async def __aenter__(self) -> EventHub:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._accepting

    @property
    def cursor(self) -> Cursor:
        return self._cursor

    @property
    def listener_pid(self) -> int | None:
        """The server process of the LISTEN connection, while there is one."""
        listener = self._listener
        return None if listener is None or listener.is_closed() else int(listener.get_server_pid())

    async def start(self) -> None:
        """From the horizon now: the events that are final already are the past, resumable from the database."""
        async with unscoped_transaction(self._sessions) as session:
            self._cursor = await repository.horizon(session)
        self._accepting = True
        self._tasks = [
            asyncio.create_task(self._pump(), name="event-hub"),
            asyncio.create_task(self._listen(), name="event-hub-listen"),
        ]
        log.info("events.hub_started", xid=self._cursor.xid)

    async def stop(self) -> None:
        self._accepting = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._listener is not None:
            self._listener.terminate()
            self._listener = None
        self._close_all()

    def subscribe(
        self, tenant_id: uuid.UUID, only: EventFilter, *, resume: Cursor | None = None
    ) -> tuple[Subscription, Cursor]:
        """Register a stream and return it with the cursor it starts from: it will receive every event after
        that cursor (and after `resume`); the ones before are its replay's. No await: nothing moves in between."""
        subscription = Subscription(tenant_id, only, resume, self._queue_size)
        if self._accepting:
            self._subscriptions.setdefault(tenant_id, set()).add(subscription)
        else:
            subscription.close()  # stopping: the stream ends at once, and the client reconnects elsewhere
        return subscription, self._cursor

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.closed = True
        tenant = self._subscriptions.get(subscription.tenant_id)
        if tenant is not None:
            tenant.discard(subscription)
            if not tenant:
                del self._subscriptions[subscription.tenant_id]

    def wake(self) -> None:
        """Read the outbox now (the notification's callback)."""
        self._wake.set()

    async def _pump(self) -> None:
        while True:
            if self._exiting is not None and self._exiting():
                if self._accepting:
                    log.info("events.hub_closing_streams", reason="server shutting down")
                self._accepting = False
                self._close_all()
            self._wake.clear()
            try:
                await self._drain()
            except (SQLAlchemyError, OSError) as exc:
                # The database is unreachable or the read failed: the next notification or poll tries again.
                log.warning("events.read_failed", error=type(exc).__name__)
            except Exception as exc:  # the hub outlives any one failed read; it is logged
                log.error("events.read_failed", exc_info=exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await self._wake.wait()

    async def _drain(self) -> None:
        while True:
            async with unscoped_transaction(self._sessions) as session:
                rows = await repository.after(session, self._cursor, self._page_size)
            self._publish(rows)
            if len(rows) < self._page_size:
                return

    def _publish(self, rows: Sequence[OutboxRow]) -> None:
        """Fan rows out and move the cursor past them, in one step (no await)."""
        for row in rows:
            subscriptions = self._subscriptions.get(row.tenant_id)
            if subscriptions:
                frame: bytes | None = None
                for subscription in list(subscriptions):
                    floor = subscription.floor
                    if (floor is not None and row.cursor <= floor) or not subscription.only.matches(
                        row.event_type, row.payload
                    ):
                        continue
                    if frame is None:
                        frame = wire.frame(row)
                    try:
                        subscription.queue.put_nowait(frame)
                    except asyncio.QueueFull:
                        self._overflow(subscription)
            self._cursor = row.cursor

    def _overflow(self, subscription: Subscription) -> None:
        subscription.overflowed = True
        self.unsubscribe(subscription)
        subscription.close()
        STREAMS_OVERFLOWED.inc()
        log.warning("events.stream_overflowed", tenant_id=str(subscription.tenant_id), queue_size=self._queue_size)

    def _close_all(self) -> None:
        for subscriptions in list(self._subscriptions.values()):
            for subscription in list(subscriptions):
                self.unsubscribe(subscription)
                subscription.close()

    async def _listen(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while True:
            lost = asyncio.Event()
            try:
                connection = await repository.listen(self._dsn, on_notify=self.wake, on_lost=lost.set)
            except _LISTEN_ERRORS as exc:
                log.warning("events.listen_failed", error=type(exc).__name__, retry_in_seconds=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
                continue
            self._listener = connection
            connected_at = time.monotonic()
            # Whatever committed while nobody listened is read now rather than at the next poll.
            self.wake()
            log.info("events.listening", pid=connection.get_server_pid())
            try:
                await self._hold(connection, lost)
            finally:
                self._listener = None
                connection.terminate()
            if time.monotonic() - connected_at > PING_SECONDS:
                delay = RECONNECT_MIN_SECONDS  # it had been up a while: not a flapping connection
            log.warning("events.listen_lost", retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def _hold(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Until the connection is lost, or stops answering its ping."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_SECONDS):
                    await lost.wait()
            if lost.is_set():
                return
            try:
                await repository.ping(connection, timeout_seconds=5.0)
            except (*_LISTEN_ERRORS, TimeoutError):
                return
