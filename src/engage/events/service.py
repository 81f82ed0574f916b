"""The event stream's use cases: mint a stream token, open a stream."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.db import tenant_transaction
from engage.core.principal import Principal
from engage.core.runtime import Runtime
from engage.core.security import AccessClaims

from . import filters, repository
from .errors import InvalidLastEventId, StreamUnavailable
from .hub import EventHub
from .repository import Cursor
from .schemas import StreamTokenRead
from .stream import EventStream
from .tokens import StreamTokens


@dataclass(frozen=True, slots=True)
class Caller:
    """Who opens a stream, and the session it stands on (its access token's claims, or those a stream token
    carries from the access token it was minted from)."""

    principal: Principal
    session: AccessClaims


def mint_stream_token(tokens: StreamTokens, caller: Caller, *, now: datetime) -> StreamTokenRead:
    minted = tokens.issue(caller.session, now=now)
    return StreamTokenRead(
        token=minted.token,
        expires_at=minted.expires_at,
        expires_in=max(0, int((minted.expires_at - now).total_seconds())),
    )


async def open_stream(
    runtime: Runtime, hub: EventHub, caller: Caller, *, types: str | None, last_event_id: str | None
) -> EventStream:
    """Everything a stream needs checked before its first byte: the filter, the resume point, a serving hub."""
    only = filters.parse(types, agent_id=caller.principal.own_agent_id)
    resume = None
    if last_event_id is not None:
        resume = await _resume_point(runtime.sessions, caller.principal.tenant_id, last_event_id)
    if not hub.running:
        raise StreamUnavailable("This server is not serving live events now; reconnect.")
    return EventStream(
        hub,
        runtime.sessions,
        runtime.clock,
        runtime.access,
        caller.session,
        only,
        resume=resume,
        heartbeat_seconds=runtime.settings.events.heartbeat_seconds,
    )


async def _resume_point(sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, last_event_id: str) -> Cursor:
    refused = InvalidLastEventId(
        "Last-Event-ID (or last_event_id) must be the id of an event your stream sent; reconnect without it to "
        "follow live events only."
    )
    try:
        event_id = uuid.UUID(last_event_id)
    except ValueError:
        raise refused from None
    async with tenant_transaction(sessions, tenant_id) as session:
        cursor = await repository.cursor_of(session, tenant_id, event_id)
    if cursor is None:
        raise refused
    return cursor
