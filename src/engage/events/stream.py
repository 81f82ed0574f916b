"""One client's event stream: registered at the hub, it replays what the client missed from the database, then
follows the hub, until the session that opened it expires.

Invariants:
- Exactly once and in order across the seam: the hub hands back the cursor C at which the stream was registered;
  the replay reads the tenant's events in `(resume, C]` and the hub delivers those after C (and after `resume`).
- The stream never outlives its session: it ends at the access token's expiry (for a stream token, the expiry of
  the access token it was minted from), by the injected clock, and when a heartbeat finds that its user no
  longer stands (deactivated, role changed, sessions revoked).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.clock import Clock
from engage.core.db import tenant_transaction
from engage.core.runtime import AccessCheck
from engage.core.security import AccessClaims

from . import repository, wire
from .filters import EventFilter
from .hub import EventHub, Subscription
from .metrics import EVENTS_STREAMED, STREAMS_OPEN
from .repository import Cursor

REPLAY_PAGE_SIZE = 500
# Live events written in one chunk at most: a backlog goes out in few writes, none of them huge.
_CHUNK_EVENTS = 100


class EventStream:
    def __init__(
        self,
        hub: EventHub,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        access: AccessCheck,
        session: AccessClaims,
        only: EventFilter,
        *,
        resume: Cursor | None,
        heartbeat_seconds: float,
    ) -> None:
        self._hub = hub
        self._sessions = sessions
        self._clock = clock
        self._access = access
        self._session = session
        self._only = only
        self._resume = resume
        self._heartbeat_seconds = heartbeat_seconds

    @property
    def tenant_id(self) -> uuid.UUID:
        return self._session.tenant_id

    @property
    def ends_at(self) -> datetime:
        return self._session.expires_at

    async def frames(self) -> AsyncIterator[bytes]:
        """The response body: the preamble, the replay, then live events and heartbeats."""
        subscription, registered_at = self._hub.subscribe(self.tenant_id, self._only, resume=self._resume)
        STREAMS_OPEN.inc()
        try:
            yield wire.PREAMBLE
            if self._resume is not None:
                async for chunk in self._replay(self._resume, registered_at):
                    yield chunk
            async for chunk in self._live(subscription):
                yield chunk
        finally:
            self._hub.unsubscribe(subscription)
            STREAMS_OPEN.dec()

    def _expired(self) -> bool:
        return self._clock.now() >= self.ends_at

    async def _replay(self, after: Cursor, until: Cursor) -> AsyncIterator[bytes]:
        cursor = after
        while cursor < until and not self._expired():
            async with tenant_transaction(self._sessions, self.tenant_id) as session:
                rows = await repository.replay(session, self.tenant_id, cursor, until, self._only, REPLAY_PAGE_SIZE)
            if rows:
                EVENTS_STREAMED.inc(len(rows))
                yield b"".join(wire.frame(row) for row in rows)
            if len(rows) < REPLAY_PAGE_SIZE:
                return
            cursor = rows[-1].cursor

    async def _live(self, subscription: Subscription) -> AsyncIterator[bytes]:
        queue = subscription.queue
        while True:
            remaining = (self.ends_at - self._clock.now()).total_seconds()
            if remaining <= 0 or (subscription.closed and queue.empty()):
                return
            try:
                async with asyncio.timeout(min(self._heartbeat_seconds, remaining)):
                    first = await queue.get()
            except TimeoutError:
                if self._expired() or not await self._still_stands():
                    return
                yield wire.HEARTBEAT
                continue
            if first is None:
                return
            chunk = [first]
            ended = False
            while len(chunk) < _CHUNK_EVENTS and not queue.empty():
                more = queue.get_nowait()
                if more is None:
                    ended = True
                    break
                chunk.append(more)
            EVENTS_STREAMED.inc(len(chunk))
            yield b"".join(chunk)
            if ended:
                return

    async def _still_stands(self) -> bool:
        """The session's user still stands as when the stream opened (the check every request makes, cached per
        process for two seconds). A database that cannot answer now ends nothing: the next heartbeat asks again."""
        try:
            return await self._access(self._session)
        except (SQLAlchemyError, OSError):
            return True
