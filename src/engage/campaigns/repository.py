"""Every query on `campaigns`, `campaign_agents` and the campaigns' maintained figures (`campaign_stats`,
`campaign_hourly`), always inside a tenant-scoped transaction."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, DateTime, Row, Select, String, Uuid, any_, bindparam, func, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engage.cli_groups import service as cli_groups
from engage.core.pagination import CompiledPage, PageParams, PageResult, paginate
from engage.core.sql import Compiled, Fact, Reads, among, for_body
from engage.users import service as users

from .models import Campaign, CampaignAgent, CampaignHourly, CampaignStats


async def get_campaign(session: AsyncSession, campaign_id: uuid.UUID, *, for_update: bool = False) -> Campaign | None:
    """The tenant's campaign (RLS hides every other tenant's). `for_update`: lock the row until the transaction
    ends, so two concurrent transitions or edits of one campaign apply one after the other, each seeing the
    other's result."""
    if not for_update:
        return await session.get(Campaign, campaign_id)
    query = select(Campaign).where(Campaign.id == campaign_id).with_for_update()
    # populate_existing: a row already in the session is refreshed from the locked read, not served stale.
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def add_campaign(session: AsyncSession, campaign: Campaign) -> Campaign:
    session.add(campaign)
    await session.flush()
    return campaign


async def flush(session: AsyncSession) -> None:
    await session.flush()


# The listing's optional filters, by parameter name; each takes its value from a parameter of that name.
_INSTANT = DateTime(timezone=True)
_LISTING_FILTERS = {
    "status": Campaign.status == bindparam("status", type_=String),
    "dialing_mode": Campaign.dialing_mode == bindparam("dialing_mode", type_=String),
    "created_from": Campaign.created_at >= bindparam("created_from", type_=_INSTANT),
    "created_to": Campaign.created_at <= bindparam("created_to", type_=_INSTANT),
}


@functools.cache
def _listing(filters: frozenset[str]) -> CompiledPage:
    """The listing with these filters, compiled once: every column of `campaigns`, `total_contacts`/`contacted`/
    `connected` from the row the triggers on `contacts` keep (`campaign_stats`), and `abandoned`/`answered` summed
    over the hourly rows after `since`. Its cost does not grow with the contacts the campaigns hold."""
    conditions = [condition for name, condition in _LISTING_FILTERS.items() if name in filters]
    hourly = (
        select(
            func.coalesce(func.sum(CampaignHourly.abandoned), 0).label("abandoned"),
            func.coalesce(func.sum(CampaignHourly.answered), 0).label("answered"),
        )
        .where(CampaignHourly.campaign_id == Campaign.id, CampaignHourly.hour > bindparam("since", type_=_INSTANT))
        .lateral("hourly")
    )
    query = (
        select(
            *for_body(*Campaign.__table__.columns),
            func.coalesce(CampaignStats.total_contacts, 0).label("total_contacts"),
            func.coalesce(CampaignStats.contacted, 0).label("contacted"),
            func.coalesce(CampaignStats.connected, 0).label("connected"),
            hourly.c.abandoned,
            hourly.c.answered,
        )
        .select_from(Campaign)
        .outerjoin(CampaignStats, CampaignStats.campaign_id == Campaign.id)
        .outerjoin(hourly, true())
        .where(*conditions)
    )
    return CompiledPage.of(query, Campaign.__table__.c.id, count_from=select(Campaign.id).where(*conditions))


async def list_campaign_rows(
    db: Reads,
    params: PageParams,
    *,
    since: datetime,
    status: str | None = None,
    dialing_mode: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> PageResult[asyncpg.Record]:
    """A page of campaigns as records with their counters (see `_listing`), and the filtered total, in one
    statement."""
    filters = {"status": status, "dialing_mode": dialing_mode, "created_from": created_from, "created_to": created_to}
    given = {name: value for name, value in filters.items() if value is not None}
    return await _listing(frozenset(given)).fetch(db, params, since=since, **given)


async def assign_agents(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID, agent_ids: Sequence[uuid.UUID], *, at: datetime
) -> set[uuid.UUID]:
    """Assign the agents not yet assigned (one statement; an existing assignment keeps its `assigned_at`);
    the ids actually added."""
    if not agent_ids:
        return set()
    statement = (
        insert(CampaignAgent)
        .values(
            [{"tenant_id": tenant_id, "campaign_id": campaign_id, "agent_id": a, "assigned_at": at} for a in agent_ids]
        )
        .on_conflict_do_nothing(index_elements=[CampaignAgent.campaign_id, CampaignAgent.agent_id])
        .returning(CampaignAgent.agent_id)
    )
    return set((await session.scalars(statement)).all())


async def assigned_agents(
    session: AsyncSession, campaign_id: uuid.UUID, agent_ids: Sequence[uuid.UUID]
) -> Sequence[Row[uuid.UUID, str, str, datetime]]:
    """(id, full_name, email, assigned_at) of those of `agent_ids` assigned to the campaign."""
    people = users.people()
    query = (
        select(people.c.id, people.c.full_name, people.c.email, CampaignAgent.assigned_at)
        .join(CampaignAgent, CampaignAgent.agent_id == people.c.id)
        .where(CampaignAgent.campaign_id == campaign_id, among(CampaignAgent.agent_id, agent_ids))
        .order_by(people.c.id.desc())
    )
    return (await session.execute(query)).all()


async def list_assignments(
    session: AsyncSession, campaign_id: uuid.UUID, params: PageParams
) -> PageResult[CampaignAgent]:
    query: Select[CampaignAgent] = select(CampaignAgent).where(CampaignAgent.campaign_id == campaign_id)
    return await paginate(session, query, CampaignAgent.agent_id, params)


async def dialing_agent_ids(session: AsyncSession, campaign_id: uuid.UUID) -> list[uuid.UUID]:
    """Agents assigned to the campaign who may take its calls: still active, still in the agent role."""
    people = users.people()
    query = (
        select(CampaignAgent.agent_id)
        .join(people, people.c.id == CampaignAgent.agent_id)
        .where(CampaignAgent.campaign_id == campaign_id, people.c.dialable)
    )
    return list((await session.scalars(query)).all())


async def stats(session: AsyncSession, campaign_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int, int]]:
    """(total_contacts, contacted, connected) per campaign, as the triggers on `contacts` keep them: one primary-key
    read per campaign, whatever it holds. A campaign that never had a contact may have no row (absent here)."""
    if not campaign_ids:
        return {}
    query = select(
        CampaignStats.campaign_id, CampaignStats.total_contacts, CampaignStats.contacted, CampaignStats.connected
    ).where(among(CampaignStats.campaign_id, campaign_ids))
    rows = (await session.execute(query)).all()
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}


async def abandon_totals(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID], *, since: datetime
) -> dict[uuid.UUID, tuple[int, int]]:
    """(abandoned, answered by a person) per campaign, summed over its hourly rows with `hour > since`, in one
    grouped query (at most 24 rows a campaign for a rolling day). A campaign without such rows is absent."""
    if not campaign_ids:
        return {}
    query = (
        select(CampaignHourly.campaign_id, func.sum(CampaignHourly.abandoned), func.sum(CampaignHourly.answered))
        .where(among(CampaignHourly.campaign_id, campaign_ids), CampaignHourly.hour > since)
        .group_by(CampaignHourly.campaign_id)
    )
    rows = (await session.execute(query)).all()
    return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in rows}


@dataclass(frozen=True, slots=True)
class CallingContext:
    """What the compliance gate needs of a campaign: its calling window and its CLI group's numbers."""

    window_start: time | None
    window_end: time | None
    cli_numbers: frozenset[str]


def _contexts(value: Sequence[tuple[Any, ...]] | None) -> dict[uuid.UUID, CallingContext]:
    return {
        campaign_id: CallingContext(start, end, frozenset(numbers or ()))
        for campaign_id, start, end, numbers in value or ()
    }


def calling_contexts(campaign_ids: ColumnElement[list[uuid.UUID]]) -> Fact[dict[uuid.UUID, CallingContext]]:
    """The tenant's campaigns among the ids in the array `campaign_ids` (RLS hides the rest), each with its calling
    window and its CLI group's numbers (from `cli_groups.service.group_numbers()`)."""
    numbers_of = cli_groups.group_numbers()
    numbers = (
        select(func.array_agg(numbers_of.c.number))
        .where(numbers_of.c.cli_group_id == Campaign.cli_group_id)
        .scalar_subquery()
    )
    context = tuple_(Campaign.id, Campaign.calling_window_start, Campaign.calling_window_end, numbers)
    found = select(func.array_agg(context)).where(Campaign.id == any_(campaign_ids))
    return Fact(found.scalar_subquery(), _contexts)


_EXISTS = Compiled(select(Campaign.id).where(Campaign.id == bindparam("campaign_id", type_=Uuid)))


async def exists(db: Reads, campaign_id: uuid.UUID) -> bool:
    return await _EXISTS.fetchval(db, campaign_id=campaign_id) is not None
