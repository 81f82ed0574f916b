"""Every query the calls API makes, always inside a tenant-scoped transaction (row-level security hides every
other tenant's calls). The dialer writes the rows; nothing here writes.

The figures are SQL aggregates (`count(*) FILTER (...)`): one statement per figure set, whatever the day holds.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import asyncpg
from sqlalchemy import (
    ColumnElement,
    DateTime,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from engage.core.pagination import CompiledPage, PageParams, PageResult
from engage.core.sql import Compiled, Fact, Reads, json_row

from .models import LIVE_STATUSES, Call, CallStatus

_RINGING = (CallStatus.dialing.value, CallStatus.ringing.value)
_CONNECTED = (CallStatus.answered.value, CallStatus.bridged.value)


@dataclass(frozen=True, slots=True)
class CallFilter:
    """The list's filters; None is "any". `started_from` and `started_to` are inclusive."""

    campaign_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    status: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None


INSTANT = DateTime(timezone=True)
JSON_ROW = "body"
_CALLS = cast(Table, Call.__table__)
# The list's filters by `CallFilter` field; each takes its value from a parameter of that name.
_LIST_FILTERS = {
    "campaign_id": Call.campaign_id == bindparam("campaign_id", type_=Uuid),
    "agent_id": Call.agent_id == bindparam("agent_id", type_=Uuid),
    "status": Call.status == bindparam("status", type_=String),
    "started_from": Call.started_at >= bindparam("started_from", type_=INSTANT),
    "started_to": Call.started_at <= bindparam("started_to", type_=INSTANT),
}


@functools.cache
def _listing(filters: frozenset[str], columns: tuple[str, ...]) -> CompiledPage:
    conditions = [condition for name, condition in _LIST_FILTERS.items() if name in filters]
    return CompiledPage.of(
        select(json_row(_CALLS, columns).label(JSON_ROW), _CALLS.c.id).where(*conditions),
        _CALLS.c.id,
        count_from=select(Call.id).where(*conditions),
    )


async def list_calls(
    db: Reads, params: PageParams, where: CallFilter, *, columns: tuple[str, ...]
) -> PageResult[asyncpg.Record]:
    """A page of calls, each as its JSON body (`core.sql.json_row` of the columns named in `columns`, in that
    order; the record's `JSON_ROW`), and the filtered total, in one statement."""
    given = {name: getattr(where, name) for name in _LIST_FILTERS if getattr(where, name) is not None}
    return await _listing(frozenset(given), columns).fetch(db, params, **given)


async def get_call(session: AsyncSession, call_id: uuid.UUID) -> Call | None:
    return await session.get(Call, call_id)


@dataclass(frozen=True, slots=True)
class DayFigures:
    total_calls: int
    connected: int
    no_answer: int
    busy: int
    failed: int
    voicemail: int
    # Rounded to whole seconds by PostgreSQL (half away from zero); 0 without a connected call.
    avg_talk_time_seconds: int
    abandoned: int
    # The abandon rate's denominator: answered by a person, not by a machine.
    answered_by_person: int


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


async def day_figures(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    campaign_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
) -> DayFigures:
    """Figures of the calls started in [start, end), in one aggregate statement. "Connected" is a call that
    reached an agent (`bridged_at` set); live calls count in `total_calls` and, once bridged, in `connected`
    (their talk time, still unknown, is left out of the average)."""
    connected = Call.bridged_at.is_not(None)
    query = select(
        func.count(),
        _count(connected),
        _count(Call.status == CallStatus.no_answer.value),
        _count(Call.status == CallStatus.busy.value),
        _count(Call.status == CallStatus.failed.value),
        _count(Call.status == CallStatus.voicemail.value),
        func.coalesce(func.round(func.avg(Call.talk_time_seconds).filter(connected)), 0),
        _count(Call.abandoned.is_(True)),
        _count(Call.answered_at.is_not(None) & (Call.status != CallStatus.voicemail.value)),
    ).where(Call.started_at >= start, Call.started_at < end)
    if campaign_id is not None:
        query = query.where(Call.campaign_id == campaign_id)
    if agent_id is not None:
        query = query.where(Call.agent_id == agent_id)
    row = (await session.execute(query)).one()
    return DayFigures(
        total_calls=int(row[0]),
        connected=int(row[1]),
        no_answer=int(row[2]),
        busy=int(row[3]),
        failed=int(row[4]),
        voicemail=int(row[5]),
        avg_talk_time_seconds=int(row[6]),
        abandoned=int(row[7]),
        answered_by_person=int(row[8]),
    )


def _among(column: InstrumentedAttribute[str], values: Iterable[str]) -> ColumnElement[bool]:
    """`column IN ('a', 'b')` with the values written into the SQL (constants of this module, never input):
    PostgreSQL uses a partial index (ix_calls_live lists the live statuses) only when it can prove the query implies
    the index's predicate, which it cannot do for bound parameters in a generic (cached) plan."""
    return column.in_([literal_column(f"'{value}'") for value in sorted(values)])


_LIVE_COUNTS = Compiled(
    select(_count(_among(Call.status, _RINGING)), _count(_among(Call.status, _CONNECTED))).where(
        _among(Call.status, LIVE_STATUSES)
    )
)


async def live_counts(db: Reads) -> tuple[int, int]:
    """(ringing, connected) among the tenant's live calls, in one statement served by ix_calls_live."""
    row = await _LIVE_COUNTS.fetchrow(db)
    if row is None:
        raise RuntimeError("an aggregate without GROUP BY returned no row")
    return int(row[0]), int(row[1])


def agent_day_figures(
    *, start: ColumnElement[datetime], end: ColumnElement[datetime]
) -> Fact[dict[str, tuple[int, int]]]:
    """(calls, talk time in seconds) per agent (its id as text) over the tenant's calls started in [start, end),
    as a fact (`core.sql.Fact`): one grouped subquery, served by ix_calls_tenant_id_started_at. An agent without
    calls is absent."""
    per_agent = (
        select(
            sql_cast(Call.agent_id, Text).label("agent_id"),
            func.count().label("calls"),
            func.coalesce(func.sum(Call.talk_time_seconds), 0).label("talk"),
        )
        .where(Call.agent_id.is_not(None), Call.started_at >= start, Call.started_at < end)
        .group_by(Call.agent_id)
        .subquery()
    )
    found = select(func.array_agg(tuple_(per_agent.c.agent_id, per_agent.c.calls, per_agent.c.talk)))
    return Fact(found.scalar_subquery(), _figures)


def _figures(value: Sequence[Sequence[Any]] | None) -> dict[str, tuple[int, int]]:
    return {agent_id: (int(calls), int(talk)) for agent_id, calls, talk in value or ()}
