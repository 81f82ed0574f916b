"""The four reports' queries. Every figure is an aggregate PostgreSQL computes; Python only writes rows out.

They run in the request's tenant-scoped transaction, so row-level security keeps them to the tenant. Reports
read across calls, campaigns, contacts, users and the agents' state history in one statement each (a report is
a join by nature); `pyproject.toml` names these imports as kept on purpose, as it does the dialer's.

Ranges: a call belongs to a report when it started within [from, to], both inclusive (the seed's example ends at
23:59:59). Time in a state is the part of each state that overlaps the range, up to now.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Numeric, Select, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from engage.agents.models import AgentStateHistory
from engage.calls.models import Call
from engage.campaigns.models import Campaign
from engage.contacts.models import Contact
from engage.core.sql import among
from engage.users.models import User

from .schemas import ReportType
from .tables import Row

# How a report groups the agent states: reserved is waiting for a call that is already ringing (available time);
# lunch and training are breaks.
AVAILABLE = ("available", "reserved")
BREAK = ("break", "lunch", "training")
# Rows fetched from the server-side cursor at a time when a report is streamed.
STREAM_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class Scope:
    start: datetime
    end: datetime
    now: datetime
    campaign_id: uuid.UUID | None = None
    agent_ids: Sequence[uuid.UUID] | None = None


def _calls_in(scope: Scope) -> list[ColumnElement[bool]]:
    where = [Call.started_at >= scope.start, Call.started_at <= scope.end]
    if scope.campaign_id is not None:
        where.append(Call.campaign_id == scope.campaign_id)
    if scope.agent_ids is not None:
        where.append(among(Call.agent_id, scope.agent_ids))
    return where


def _percent(part: ColumnElement[int], whole: ColumnElement[int]) -> ColumnElement[float]:
    """100 * part / whole, rounded to one decimal; 0 when there is no whole."""
    return func.coalesce(func.round(part.cast(Numeric) * 100 / func.nullif(whole, 0), 1), 0)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


def call_detail(scope: Scope) -> Select[*tuple[Any, ...]]:
    agent = select(User.id, User.full_name).subquery("agent")
    return (
        select(
            Call.id,
            Call.campaign_id,
            Campaign.name,
            Call.agent_id,
            agent.c.full_name,
            Call.contact_phone,
            Call.direction,
            Call.status,
            Call.disposition,
            Call.duration_seconds,
            Call.talk_time_seconds,
            Call.started_at,
            Call.answered_at,
            Call.ended_at,
            Call.recording_id,
        )
        .select_from(Call)
        .outerjoin(Campaign, Campaign.id == Call.campaign_id)
        .outerjoin(agent, agent.c.id == Call.agent_id)
        .where(*_calls_in(scope))
        .order_by(Call.started_at, Call.id)
    )


def campaign_summary(scope: Scope) -> Select[*tuple[Any, ...]]:
    connected = Call.bridged_at.is_not(None)
    calls = (
        select(
            Call.campaign_id.label("campaign_id"),
            func.count().label("dialled"),
            _count_if(connected).label("connected"),
            _count_if(Call.abandoned.is_(True)).label("abandoned"),
            _count_if(Call.answered_at.is_not(None) & (Call.status != "voicemail")).label("answered_by_person"),
            func.coalesce(func.round(func.avg(Call.talk_time_seconds).filter(connected)), 0).label("avg_talk"),
            func.count(func.distinct(func.date_trunc("hour", Call.started_at))).label("active_hours"),
        )
        .where(*_calls_in(scope), Call.campaign_id.is_not(None))
        .group_by(Call.campaign_id)
        .subquery("calls")
    )
    contacts = (
        select(
            Contact.campaign_id.label("campaign_id"),
            _count_if(Contact.status == "completed").label("completed"),
            _count_if(Contact.status == "failed").label("failed"),
            _count_if(Contact.status.in_(("pending", "dialing", "connected"))).label("remaining"),
        )
        .group_by(Contact.campaign_id)
        .subquery("contacts")
    )
    dialled = func.coalesce(calls.c.dialled, 0)
    query = (
        select(
            Campaign.id,
            Campaign.name,
            dialled,
            func.coalesce(calls.c.connected, 0),
            _percent(func.coalesce(calls.c.abandoned, 0), calls.c.answered_by_person),
            func.coalesce(contacts.c.completed, 0),
            func.coalesce(contacts.c.failed, 0),
            func.coalesce(contacts.c.remaining, 0),
            func.coalesce(calls.c.avg_talk, 0),
            func.coalesce(func.round(calls.c.dialled.cast(Numeric) / func.nullif(calls.c.active_hours, 0), 1), 0),
        )
        .select_from(Campaign)
        .outerjoin(calls, calls.c.campaign_id == Campaign.id)
        .outerjoin(contacts, contacts.c.campaign_id == Campaign.id)
        .order_by(Campaign.name, Campaign.id)
    )
    # The campaign asked for is a row even without calls in the range; otherwise, campaigns that dialled in it.
    if scope.campaign_id is not None:
        return query.where(Campaign.id == scope.campaign_id)
    return query.where(calls.c.campaign_id.is_not(None))


def _state_seconds(scope: Scope) -> Select[*tuple[Any, ...]]:
    history = (
        select(
            AgentStateHistory.agent_id,
            AgentStateHistory.state,
            AgentStateHistory.started_at,
            func.lead(AgentStateHistory.started_at)
            .over(
                partition_by=AgentStateHistory.agent_id, order_by=(AgentStateHistory.started_at, AgentStateHistory.id)
            )
            .label("ended_at"),
        )
        .where(AgentStateHistory.started_at <= scope.end)
        .subquery("history")
    )
    upper = min(scope.end, scope.now)
    began = func.greatest(history.c.started_at, literal(scope.start))
    ended = func.least(func.coalesce(history.c.ended_at, literal(upper)), literal(upper))
    overlap = func.extract("epoch", ended - began)

    def seconds_in(states: Sequence[str]) -> ColumnElement[float]:
        return func.coalesce(func.sum(overlap).filter(ended > began, history.c.state.in_(states)), 0)

    return select(
        history.c.agent_id.label("agent_id"),
        seconds_in(AVAILABLE).label("available"),
        seconds_in(("on_call",)).label("on_call"),
        seconds_in(("wrap_up",)).label("wrap_up"),
        seconds_in(BREAK).label("on_break"),
    ).group_by(history.c.agent_id)


def agent_performance(scope: Scope) -> Select[*tuple[Any, ...]]:
    connected = Call.bridged_at.is_not(None)
    calls = (
        select(
            Call.agent_id.label("agent_id"),
            func.count().label("calls"),
            _count_if(connected).label("connected"),
            func.coalesce(func.sum(Call.talk_time_seconds), 0).label("talk"),
            _count_if(connected & Call.disposition.is_not(None)).label("dispositioned"),
        )
        .where(*_calls_in(scope), Call.agent_id.is_not(None))
        .group_by(Call.agent_id)
        .subquery("calls")
    )
    states = _state_seconds(scope).subquery("states")
    talk = func.coalesce(calls.c.talk, 0)
    wrap_up = func.coalesce(states.c.wrap_up, 0)
    connected_calls = func.coalesce(calls.c.connected, 0)
    query = (
        select(
            User.full_name,
            func.coalesce(calls.c.calls, 0),
            connected_calls,
            talk,
            # Handle time: talking plus wrap-up, per connected call.
            func.coalesce(func.round((talk + wrap_up) / func.nullif(connected_calls, 0)), 0),
            _percent(func.coalesce(calls.c.dispositioned, 0), calls.c.connected),
            func.round(func.coalesce(states.c.available, 0)),
            func.round(func.coalesce(states.c.on_call, 0)),
            func.round(wrap_up),
            func.round(func.coalesce(states.c.on_break, 0)),
            User.id,
        )
        .select_from(User)
        .outerjoin(calls, calls.c.agent_id == User.id)
        .outerjoin(states, states.c.agent_id == User.id)
        .order_by(User.full_name, User.id)
    )
    if scope.agent_ids is not None:
        query = query.where(among(User.id, scope.agent_ids))
    # With a campaign: the agents who took its calls. Without: every agent who took calls or was logged in.
    worked: ColumnElement[bool] = calls.c.agent_id.is_not(None)
    if scope.campaign_id is None:
        logged_in = and_(
            states.c.agent_id.is_not(None),
            (states.c.available + states.c.on_call + states.c.wrap_up + states.c.on_break) > 0,
        )
        worked = or_(worked, and_(User.role == "agent", logged_in))
    return query.where(worked)


def disposition_summary(scope: Scope) -> Select[*tuple[Any, ...]]:
    per_campaign = func.sum(func.count()).over(partition_by=Call.campaign_id)
    return (
        select(
            Call.campaign_id,
            Campaign.name,
            Call.disposition,
            func.count(),
            func.round(func.count().cast(Numeric) * 100 / per_campaign, 1),
        )
        .select_from(Call)
        .outerjoin(Campaign, Campaign.id == Call.campaign_id)
        .where(*_calls_in(scope), Call.disposition.is_not(None))
        .group_by(Call.campaign_id, Campaign.name, Call.disposition)
        .order_by(Campaign.name, Call.campaign_id, func.count().desc(), Call.disposition)
    )


_QUERIES = {
    ReportType.call_detail: call_detail,
    ReportType.campaign_summary: campaign_summary,
    ReportType.agent_performance: agent_performance,
    ReportType.disposition_summary: disposition_summary,
}


async def count(session: AsyncSession, report_type: ReportType, scope: Scope) -> int:
    query = _QUERIES[report_type](scope).order_by(None)
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def rows(session: AsyncSession, report_type: ReportType, scope: Scope) -> list[Row]:
    return [cast(Row, tuple(row)) for row in (await session.execute(_QUERIES[report_type](scope))).all()]


async def batches(session: AsyncSession, report_type: ReportType, scope: Scope) -> AsyncIterator[list[Row]]:
    """The rows from a server-side cursor, `STREAM_BATCH` at a time: memory stays flat whatever the row count."""
    result = await session.stream(_QUERIES[report_type](scope).execution_options(yield_per=STREAM_BATCH))
    async for batch in result.partitions(STREAM_BATCH):
        yield [cast(Row, tuple(row)) for row in batch]
