"""Every query of the event stream, and its LISTEN connection.

The hub reads all tenants' events through the SECURITY DEFINER functions of migration 20261208_0900 and nothing
else (`horizon`, `after`); a stream's own reads (`cursor_of`, `replay`) run in its tenant-scoped transaction,
under row-level security, so another tenant's event id reads as absent.

Order is `(xid, id)`: the writing transaction's id, then the event id (docs/events.md, "Exactly once, in order").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import BigInteger, DateTime, String, column, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.db import APP_ROLE

from .filters import EventFilter

CHANNEL = "engage_events"
_NIL = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """A place in the stream: every event at or before it has been read. Compares as PostgreSQL orders
    `(xid, id)` (a UUID compares as its 16 bytes, big-endian, which is its integer value)."""

    xid: int
    id: uuid.UUID

    @classmethod
    def before(cls, xid: int) -> Cursor:
        """The place just before every event of transaction `xid` and later ones."""
        return cls(xid, _NIL)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    cursor: Cursor
    tenant_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    correlation_id: uuid.UUID | None
    occurred_at: datetime

    @property
    def event_id(self) -> uuid.UUID:
        return self.cursor.id


_COLUMNS = (
    column("xid", BigInteger),
    column("id", UUID(as_uuid=True)),
    column("tenant_id", UUID(as_uuid=True)),
    column("event_type", String),
    column("payload", JSONB),
    column("correlation_id", UUID(as_uuid=True)),
    column("occurred_at", DateTime(timezone=True)),
)

_SELECTED = "xid, id, tenant_id, event_type, payload, correlation_id, occurred_at"

_HORIZON = text("SELECT xid, id FROM engage_events_horizon()").columns(_COLUMNS[0], _COLUMNS[1])

_AFTER = text(
    "SELECT xid, id, tenant_id, event_type, payload, correlation_id, occurred_at "
    "FROM engage_events_after(CAST(:xid AS xid8), :id, :limit)"
).columns(*_COLUMNS)

_CURSOR_OF = text("SELECT xid, id FROM outbox_events WHERE tenant_id = :tenant_id AND id = :event_id").columns(
    _COLUMNS[0], _COLUMNS[1]
)


def _row(mapping: Any) -> OutboxRow:
    return OutboxRow(
        cursor=Cursor(int(mapping["xid"]), mapping["id"]),
        tenant_id=mapping["tenant_id"],
        event_type=mapping["event_type"],
        payload=mapping["payload"],
        correlation_id=mapping["correlation_id"],
        occurred_at=mapping["occurred_at"],
    )


async def horizon(session: AsyncSession) -> Cursor:
    """The place before every event not yet final: the oldest running transaction's id (the snapshot's xmin)."""
    row = (await session.execute(_HORIZON)).one()
    return Cursor(int(row.xid), row.id)


async def after(session: AsyncSession, cursor: Cursor, limit: int) -> list[OutboxRow]:
    """Every tenant's final events after `cursor`, in order, at most `limit`."""
    result = await session.execute(_AFTER, {"xid": cursor.xid, "id": cursor.id, "limit": limit})
    return [_row(row._mapping) for row in result]


async def cursor_of(session: AsyncSession, tenant_id: uuid.UUID, event_id: uuid.UUID) -> Cursor | None:
    """Where the tenant's event `event_id` sits in the stream; None for an unknown id or another tenant's."""
    row = (await session.execute(_CURSOR_OF, {"tenant_id": tenant_id, "event_id": event_id})).one_or_none()
    return None if row is None else Cursor(int(row.xid), row.id)


async def replay(
    session: AsyncSession, tenant_id: uuid.UUID, after: Cursor, until: Cursor, only: EventFilter, limit: int
) -> list[OutboxRow]:
    """The tenant's events in `(after, until]` that `only` lets through, in order, at most `limit` (a page: call
    again from the last one's cursor). Rows at or before `until` are final, so a page never changes."""
    conditions = [
        "tenant_id = :tenant_id",
        "(xid, id) > (CAST(:after_xid AS xid8), :after_id)",
        "(xid, id) <= (CAST(:until_xid AS xid8), :until_id)",
    ]
    params: dict[str, Any] = {
        "tenant_id": tenant_id,
        "after_xid": after.xid,
        "after_id": after.id,
        "until_xid": until.xid,
        "until_id": until.id,
        "limit": limit,
    }
    if only.agent_id is not None:
        conditions.append("payload ->> 'agent_id' = :agent_id")
        params["agent_id"] = only.agent_id
    if only.types is not None:
        conditions.append(
            "(event_type = ANY (CAST(:types AS text[])) OR EXISTS "
            "(SELECT 1 FROM unnest(CAST(:prefixes AS text[])) AS p(prefix) WHERE starts_with(event_type, p.prefix)))"
        )
        params["types"] = sorted(only.types)
        params["prefixes"] = list(only.prefixes)
    where = " AND ".join(conditions)
    # The conditions are fixed fragments chosen above; every value is a bound parameter.
    sql = f"SELECT {_SELECTED} FROM outbox_events WHERE {where} ORDER BY xid, id LIMIT :limit"  # noqa: S608
    statement = text(sql).columns(*_COLUMNS)
    result = await session.execute(statement, params)
    return [_row(row._mapping) for row in result]


async def listen(
    dsn: str, *, on_notify: Callable[[], None], on_lost: Callable[[], None], timeout_seconds: float = 10.0
) -> asyncpg.Connection:
    """A connection of its own that LISTENs on the outbox's channel (a pooled one would carry the LISTEN back to
    the pool): `on_notify` on each notification, `on_lost` once if the connection ends."""
    connection = await asyncpg.connect(
        dsn,
        timeout=timeout_seconds,
        server_settings={"role": APP_ROLE, "application_name": "engage-events", "timezone": "UTC"},
    )
    try:
        connection.add_termination_listener(lambda _connection: on_lost())
        await connection.add_listener(CHANNEL, lambda *_notification: on_notify())
    except BaseException:
        connection.terminate()
        raise
    return connection


async def ping(connection: asyncpg.Connection, *, timeout_seconds: float) -> None:
    """Raises if the LISTEN connection does not answer in time (a dead peer without a closed socket)."""
    await connection.execute("SELECT 1", timeout=timeout_seconds)
