"""The webhook dispatcher: outbox events → one delivery per (event, subscription) → signed POSTs, with the seed's
retry schedule.

Invariants:
- Work is shared through the database, never through memory: fan-out and claim take rows with FOR UPDATE SKIP
  LOCKED (migration 20261127_0930), so any number of dispatchers can run and no due delivery is leased by two
  of them at once.
- At least once: an attempt's result is committed right after it (attempts finishing together share one
  transaction), and the next attempt of that lane waits for the commit. A dispatcher killed
  mid-batch leaves its leases to expire (`lease_seconds`), and then any dispatcher sends those deliveries again:
  nothing is lost, and only the attempts that were in flight (sent, not yet settled) can reach a receiver twice.
  The receiver deduplicates on `event_id`, which every retry carries unchanged (the seed's idempotency tip).
- A claimed delivery whose lease has lapsed before its turn came is dropped, not sent: another dispatcher may
  have claimed it since.
- At most `per_subscription_limit` attempts are in flight per subscription, started in `occurred_at` order
  (the claim's order), so one slow receiver holds its own lane only; a limit of 1 gives strict order.
- "Now" is the injected clock's: due times, leases and retry times alike (tests move it instead of waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

import httpx
import structlog
from prometheus_client import Counter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core import outbox
from engage.core.clock import Clock, isoformat_z
from engage.core.db import database_unavailable, unscoped_transaction

from .repository import ClaimedDelivery, Settlement, claim, fan_out, settle
from .sender import TIMEOUT_SECONDS, redact_url, send_once, webhook_client

log = structlog.get_logger("engage.webhooks")

ATTEMPTS = Counter(
    "engage_webhook_attempts_total",
    "Webhook delivery attempts, by outcome: delivered, failed (retried on schedule, or given up), unsettled.",
    ["outcome"],
)

# The seed's retry policy: attempt 1 at once, then 30 s, 5 min, 30 min and 2 h after the previous failure
# (0 s, 30 s, 5 m 30 s, 35 m 30 s, 2 h 35 m in all). After the fifth failure the delivery is `failed`.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# How often a dispatcher whose database is out of reach tries again: about a PostgreSQL restart's length.
DATABASE_RETRY_SECONDS = 1.0
SCHEMA_VERSION = outbox.SCHEMA_VERSION

# A lease must outlast the queueing and the attempt of what one claim takes (10 s an attempt at worst).
LEASE_SECONDS = 60.0
BATCH_SIZE = 200
PER_SUBSCRIPTION_LIMIT = 4


def envelope(delivery: ClaimedDelivery) -> bytes:
    """The seed's envelope (`core.outbox.envelope`, the live stream's too): these exact bytes are signed and sent."""
    return outbox.envelope(
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        tenant_id=delivery.tenant_id,
        occurred_at=delivery.occurred_at,
        correlation_id=delivery.correlation_id,
        payload=delivery.payload,
    )


def next_attempt_at(attempts_made: int, failed_at: datetime) -> datetime | None:
    """When the next attempt is due after the `attempts_made`-th failed; None once all five have failed."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    return failed_at + RETRY_DELAYS[attempts_made - 1]


@dataclass(slots=True)
class _Lane:
    """One subscription's claimed deliveries, in claim (occurred_at) order, and how many are in flight."""

    queue: deque[ClaimedDelivery] = field(default_factory=deque)
    active: int = 0


class Dispatcher:
    """Delivers due webhooks. `run_once` does one fan-out, one claim and sends what it claimed; `run` keeps
    claiming as capacity frees up, so a slow lane never holds back the next claim."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        allow_private: bool,
        client: httpx.AsyncClient | None = None,
        batch_size: int = BATCH_SIZE,
        per_subscription_limit: int = PER_SUBSCRIPTION_LIMIT,
        lease_seconds: float = LEASE_SECONDS,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        if per_subscription_limit < 1 or batch_size < 1:
            raise ValueError("batch_size and per_subscription_limit must be at least 1")
        self._sessions = sessions
        self._clock = clock
        self._allow_private = allow_private
        self._own_client = client is None
        self._client = client if client is not None else webhook_client(allow_private=allow_private)
        self._batch_size = batch_size
        self._limit = per_subscription_limit
        self._lease_seconds = lease_seconds
        self._timeout_seconds = timeout_seconds
        self._lanes: dict[uuid.UUID, _Lane] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._outstanding = 0  # claimed and not yet settled or dropped
        self._progress = asyncio.Event()  # set when there is room for another claim
        self._refill_at = max(1, batch_size // 2)
        self._to_settle: list[tuple[Settlement, asyncio.Future[None]]] = []
        self._settler: asyncio.Task[None] | None = None
        self._stopping = False

    async def __aenter__(self) -> Dispatcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._cancel_workers()
        if self._own_client:
            await self._client.aclose()

    async def run_once(self) -> int:
        """Fan out, claim one batch of due deliveries, attempt them all and settle each; returns how many were
        claimed. Cancelling it abandons the attempts in flight (their leases expire; see the module's doc)."""
        try:
            await self._fan_out()
            claimed = await self._claim(self._batch_size)
            self._dispatch(claimed)
            while self._workers:
                await asyncio.wait(set(self._workers))
            return len(claimed)
        finally:
            await self._cancel_workers()

    async def run(self, stop: asyncio.Event, idle_seconds: float = 0.2) -> None:
        """Until `stop` is set: fan out, claim as much as there is room for, and sleep `idle_seconds` when
        nothing is due. On stop, the attempts in flight finish and settle; deliveries claimed but not started
        are left to their leases."""
        self._stopping = False
        try:
            while not stop.is_set():
                try:
                    await self._round(stop, idle_seconds)
                except Exception as exc:
                    # A database stopped or restarting: nothing is claimed or settled meanwhile (the outbox and the
                    # leases keep everything), so wait and go on; the dispatcher must outlive the outage.
                    if not database_unavailable(exc):
                        raise
                    log.warning("webhooks.database_unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
                    await _wait_for(stop, DATABASE_RETRY_SECONDS)
            self._stopping = True
            while self._workers:
                await asyncio.wait(set(self._workers))
        finally:
            await self._cancel_workers()

    async def _round(self, stop: asyncio.Event, idle_seconds: float) -> None:
        await self._fan_out()
        room = self._batch_size - self._outstanding
        if room < self._refill_at:
            # Refill by halves: a claim (and a fan-out) per freed slot cost more than the sends. Measured
            # with `engage bench webhooks`: 9,500 claims for 5,000 deliveries, 390/s; by halves, 510-565/s.
            self._progress.clear()
            await _wait_for(self._progress, idle_seconds)
            return
        claimed = await self._claim(room)
        self._dispatch(claimed)
        if len(claimed) < room:
            await _wait_for(stop, idle_seconds)

    async def _fan_out(self) -> int:
        async with unscoped_transaction(self._sessions) as session:
            return await fan_out(session, self._batch_size, self._clock.now())

    async def _claim(self, batch: int) -> list[ClaimedDelivery]:
        async with unscoped_transaction(self._sessions) as session:
            return await claim(session, batch, self._lease_seconds, self._clock.now())

    def _dispatch(self, deliveries: Sequence[ClaimedDelivery]) -> None:
        for delivery in deliveries:
            self._lanes.setdefault(delivery.subscription_id, _Lane()).queue.append(delivery)
        self._outstanding += len(deliveries)
        for subscription_id in dict.fromkeys(d.subscription_id for d in deliveries):
            lane = self._lanes[subscription_id]
            while lane.active < self._limit and lane.active < len(lane.queue):
                lane.active += 1
                worker = asyncio.create_task(self._work(subscription_id, lane))
                self._workers.add(worker)
                worker.add_done_callback(self._workers.discard)

    async def _work(self, subscription_id: uuid.UUID, lane: _Lane) -> None:
        try:
            while lane.queue and not self._stopping:
                delivery = lane.queue.popleft()
                try:
                    if self._clock.now() < delivery.leased_until:
                        await self._attempt(delivery)
                finally:
                    self._outstanding -= 1
                    if self._batch_size - self._outstanding >= self._refill_at:
                        self._progress.set()
        finally:
            lane.active -= 1
            if lane.active == 0 and self._lanes.get(subscription_id) is lane:
                del self._lanes[subscription_id]
                self._outstanding -= len(lane.queue)  # left to their leases (stopping)

    async def _attempt(self, delivery: ClaimedDelivery) -> None:
        attempted_at = self._clock.now()
        result = await send_once(
            delivery.url,
            envelope(delivery),
            delivery.secrets,
            event_id=str(delivery.event_id),
            allow_private=self._allow_private,
            clock=self._clock,
            timeout_seconds=self._timeout_seconds,
            client=self._client,
        )
        attempt = delivery.attempts + 1
        next_at = None if result.succeeded else next_attempt_at(attempt, self._clock.now())
        try:
            await self._settle(Settlement(delivery.delivery_id, result, attempted_at, next_at))
        except (SQLAlchemyError, OSError) as exc:
            # Unsettled, the delivery is sent again once its lease expires: at least once, never lost.
            ATTEMPTS.labels("unsettled").inc()
            log.error("webhook.settle_failed", delivery_id=str(delivery.delivery_id), error=type(exc).__name__)
            return
        fields = {
            "tenant_id": str(delivery.tenant_id),
            "subscription_id": str(delivery.subscription_id),
            "delivery_id": str(delivery.delivery_id),
            "event_id": str(delivery.event_id),
            "event_type": delivery.event_type,
            "target": redact_url(delivery.url),
            "attempt": attempt,
            "status_code": result.status_code,
            "latency_ms": result.latency_ms,
        }
        ATTEMPTS.labels("delivered" if result.succeeded else "failed").inc()
        if result.succeeded:
            log.info("webhook.delivered", **fields)
        else:
            log.warning(
                "webhook.failed",
                **fields,
                error=result.error,
                next_attempt_at=None if next_at is None else isoformat_z(next_at),
            )

    async def _settle(self, settlement: Settlement) -> None:
        """Returns once this attempt's result is committed. Attempts finishing together share one transaction
        (group commit), so an attempt is still "in flight" until its own result is durable: a kill never loses
        more than that, while the settle cost per delivery falls with the load."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_settle.append((settlement, done))
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle_pending())
            self._workers.add(self._settler)
            self._settler.add_done_callback(self._workers.discard)
        await done

    async def _settle_pending(self) -> None:
        while self._to_settle:
            batch, self._to_settle = self._to_settle, []
            error: BaseException | None = None
            try:
                async with unscoped_transaction(self._sessions) as session:
                    await settle(session, [settlement for settlement, _ in batch])
            except (SQLAlchemyError, OSError) as exc:
                error = exc
            for _, done in batch:
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    async def _cancel_workers(self) -> None:
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._lanes.clear()
        self._to_settle.clear()
        self._outstanding = 0


async def _wait_for(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
