"""Every query the calls API makes, always inside a tenant-scoped transaction (row-level security hides every
other tenant's calls). The dialer writes the rows; nothing here writes.

The figures are SQL aggregates (`count(*) FILTER (...)`): one statement per figure set, whatever the day holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate

from .models import LIVE_STATUSES, Call, CallStatus

# The live statuses exactly as ix_calls_live's predicate lists them, rendered into the statement as literals:
# PostgreSQL uses a partial index only when it can prove the query implies the index's predicate, which it
# cannot do for bound parameters in a generic (cached) plan.
_LIVE: BindParameter[list[str]] = bindparam(
    "live_statuses", sorted(LIVE_STATUSES), expanding=True, literal_execute=True
)
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


async def list_calls(session: AsyncSession, params: PageParams, where: CallFilter) -> PageResult[Call]:
    query: Select[Call] = select(Call)
    if where.campaign_id is not None:
        query = query.where(Call.campaign_id == where.campaign_id)
    if where.agent_id is not None:
        query = query.where(Call.agent_id == where.agent_id)
    if where.status is not None:
        query = query.where(Call.status == where.status)
    if where.started_from is not None:
        query = query.where(Call.started_at >= where.started_from)
    if where.started_to is not None:
        query = query.where(Call.started_at <= where.started_to)
    return await paginate(session, query, Call.id, params)


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


async def live_counts(session: AsyncSession) -> tuple[int, int]:
    """(ringing, connected) among the tenant's live calls, in one statement served by ix_calls_live."""
    query = select(_count(Call.status.in_(_RINGING)), _count(Call.status.in_(_CONNECTED))).where(Call.status.in_(_LIVE))
    row = (await session.execute(query)).one()
    return int(row[0]), int(row[1])


async def agent_day_figures(
    session: AsyncSession, agent_ids: Sequence[uuid.UUID], *, start: datetime, end: datetime
) -> dict[uuid.UUID, tuple[int, int]]:
    """(calls, talk time in seconds) per agent over the calls started in [start, end), in one grouped statement
    (served by ix_calls_agent_id_started_at). An agent without calls is absent."""
    if not agent_ids:
        return {}
    query = (
        select(Call.agent_id, func.count(), func.coalesce(func.sum(Call.talk_time_seconds), 0))
        .where(Call.agent_id.in_(agent_ids), Call.started_at >= start, Call.started_at < end)
        .group_by(Call.agent_id)
    )
    rows = (await session.execute(query)).all()
    return {row[0]: (int(row[1]), int(row[2] or 0)) for row in rows if row[0] is not None}
