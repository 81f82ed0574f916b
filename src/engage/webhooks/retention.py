"""The outbox's retention: the worker's loop that deletes events older than `ENGAGE_EVENTS_RETENTION_DAYS` once they
are fanned out and no delivery of theirs is pending, with those deliveries, so the two tables stop growing.

It runs in every `engage worker` (and `engage serve`); the database function locks what it takes SKIP LOCKED, so
workers running it at once share the work. A pass deletes in batches, each its own short transaction, until a
batch comes back short, then sleeps for the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import structlog
from prometheus_client import Counter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.clock import Clock
from engage.core.db import unscoped_transaction

from .repository import purge_outbox

log = structlog.get_logger("engage.webhooks.retention")

PURGED = Counter("engage_outbox_events_purged_total", "Outbox events deleted after the retention period.")


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    retention_days: int
    interval_seconds: float = 3600.0
    batch: int = 5000


class OutboxRetention:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, config: RetentionConfig) -> None:
        self._sessions = sessions
        self._clock = clock
        self._config = config

    async def purge(self) -> int:
        """One pass: every batch of events past retention, until a batch comes back short. How many went."""
        before = self._clock.now() - timedelta(days=self._config.retention_days)
        total = 0
        while True:
            async with unscoped_transaction(self._sessions) as session:
                gone = await purge_outbox(session, before, self._config.batch)
            total += gone
            PURGED.inc(gone)
            if gone < self._config.batch:
                break
        if total:
            log.info("outbox.purged", events=total, before=before.isoformat())
        return total

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.purge()
            except (SQLAlchemyError, OSError) as exc:
                # The database is away (a restart, a failover): the next pass tries again.
                log.warning("outbox.purge_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._config.interval_seconds)
