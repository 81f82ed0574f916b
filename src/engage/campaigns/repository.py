"""Every query on `campaigns`, `campaign_agents` and the campaigns' maintained figures (`campaign_stats`,
`campaign_hourly`), always inside a tenant-scoped transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate
from engage.core.principal import Role
from engage.users.models import User

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


async def list_campaigns(
    session: AsyncSession,
    params: PageParams,
    *,
    status: str | None = None,
    dialing_mode: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> PageResult[Campaign]:
    query: Select[Campaign] = select(Campaign)
    if status is not None:
        query = query.where(Campaign.status == status)
    if dialing_mode is not None:
        query = query.where(Campaign.dialing_mode == dialing_mode)
    if created_from is not None:
        query = query.where(Campaign.created_at >= created_from)
    if created_to is not None:
        query = query.where(Campaign.created_at <= created_to)
    return await paginate(session, query, Campaign.id, params)


async def active_agent_ids(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` that are active users of the tenant with the role agent."""
    if not user_ids:
        return set()
    query = select(User.id).where(User.id.in_(user_ids), User.role == Role.agent.value, User.is_active.is_(True))
    return set((await session.scalars(query)).all())


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
    query = (
        select(User.id, User.full_name, User.email, CampaignAgent.assigned_at)
        .join(CampaignAgent, CampaignAgent.agent_id == User.id)
        .where(CampaignAgent.campaign_id == campaign_id, CampaignAgent.agent_id.in_(agent_ids))
        .order_by(User.id.desc())
    )
    return (await session.execute(query)).all()


async def list_assignments(
    session: AsyncSession, campaign_id: uuid.UUID, params: PageParams
) -> PageResult[CampaignAgent]:
    query: Select[CampaignAgent] = select(CampaignAgent).where(CampaignAgent.campaign_id == campaign_id)
    return await paginate(session, query, CampaignAgent.agent_id, params)


async def dialing_agent_ids(session: AsyncSession, campaign_id: uuid.UUID) -> list[uuid.UUID]:
    """Agents assigned to the campaign who may take its calls: still active, still in the agent role."""
    query = (
        select(CampaignAgent.agent_id)
        .join(User, User.id == CampaignAgent.agent_id)
        .where(CampaignAgent.campaign_id == campaign_id, User.role == Role.agent.value, User.is_active.is_(True))
    )
    return list((await session.scalars(query)).all())


async def stats(session: AsyncSession, campaign_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int, int]]:
    """(total_contacts, contacted, connected) per campaign, as the triggers on `contacts` keep them: one primary-key
    read per campaign, whatever it holds. A campaign that never had a contact may have no row (absent here)."""
    if not campaign_ids:
        return {}
    query = select(
        CampaignStats.campaign_id, CampaignStats.total_contacts, CampaignStats.contacted, CampaignStats.connected
    ).where(CampaignStats.campaign_id.in_(campaign_ids))
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
        .where(CampaignHourly.campaign_id.in_(campaign_ids), CampaignHourly.hour > since)
        .group_by(CampaignHourly.campaign_id)
    )
    rows = (await session.execute(query)).all()
    return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in rows}
