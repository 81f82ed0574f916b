"""Campaign use cases. Flushes, never commits: the caller's transaction decides.

Invariants:
- The lifecycle is DESIGN.md §3's: draft → active (start) · active ↔ paused · active | paused → completed.
  Any other transition is a 409, and nothing changes.
- A campaign starts only with at least one contact it can still dial and at least one assigned agent who is
  logged in (any agent state but offline).
- Settings change only while the campaign is draft or paused; the dialer reads them while it is active.
- A campaign's CLI group and agents are of its tenant (RLS hides every other tenant's rows, so a foreign id
  reads as unknown).
- Every transition writes its `campaign.<status>` event to the outbox in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from engage.agents import service as agents
from engage.cli_groups import service as cli_groups
from engage.contacts import service as contacts
from engage.core.clock import Clock, isoformat_z
from engage.core.errors import ValidationFailed
from engage.core.ids import new_id
from engage.core.outbox import record_event
from engage.core.pagination import PageParams, PageResult
from engage.core.sql import Fact, Reads
from engage.users import service as users

from . import repository
from .errors import (
    CampaignNoAgents,
    CampaignNoContacts,
    CampaignNotEditable,
    InvalidCampaignTransition,
    UnknownAgents,
    UnknownCliGroup,
)
from .errors import CampaignNotFound as CampaignNotFound
from .models import Campaign
from .repository import CallingContext as CallingContext
from .schemas import (
    CampaignAgentRead,
    CampaignAgentsAssign,
    CampaignAgentsAssigned,
    CampaignCounters,
    CampaignCreate,
    CampaignRead,
    CampaignStatus,
    CampaignUpdate,
    DialingMode,
)

EDITABLE = frozenset({CampaignStatus.draft, CampaignStatus.paused})


@dataclass(frozen=True, slots=True)
class CampaignView:
    """A campaign with its live counters, as the API shows it."""

    campaign: Campaign
    counters: CampaignCounters


@dataclass(frozen=True, slots=True)
class _Transition:
    verb: str
    allowed_from: frozenset[CampaignStatus]
    to: CampaignStatus
    event_type: str


_START = _Transition(
    "started", frozenset({CampaignStatus.draft, CampaignStatus.paused}), CampaignStatus.active, "campaign.started"
)
_PAUSE = _Transition("paused", frozenset({CampaignStatus.active}), CampaignStatus.paused, "campaign.paused")
_COMPLETE = _Transition(
    "completed",
    frozenset({CampaignStatus.active, CampaignStatus.paused}),
    CampaignStatus.completed,
    "campaign.completed",
)


# DESIGN.md §3: the abandon rate is measured per campaign over a rolling 24 h.
ABANDON_WINDOW = timedelta(hours=24)
_ONE_DECIMAL = Decimal("0.1")


def abandon_rate(abandoned: int, answered: int) -> float:
    """Percent of the calls answered by a person that were abandoned, to one decimal (half up); 0.0 when no call
    was answered (nothing could be abandoned)."""
    if answered <= 0:
        return 0.0
    return float((Decimal(100 * abandoned) / Decimal(answered)).quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP))


async def _counters(
    session: AsyncSession, campaign_ids: list[uuid.UUID], *, clock: Clock
) -> dict[uuid.UUID, CampaignCounters]:
    """The seed's counters for these campaigns in two queries, whatever the campaigns hold: the contact counts
    the triggers on `contacts` maintain (`campaign_stats`), and the abandon rate over the hourly figures of the
    last 24 h (`campaign_hourly`, which the dialer adds to as calls progress)."""
    counts = await repository.stats(session, campaign_ids)
    abandons = await repository.abandon_totals(session, campaign_ids, since=clock.now() - ABANDON_WINDOW)
    result: dict[uuid.UUID, CampaignCounters] = {}
    for campaign_id in campaign_ids:
        total, contacted, connected = counts.get(campaign_id, (0, 0, 0))
        abandoned, answered = abandons.get(campaign_id, (0, 0))
        result[campaign_id] = CampaignCounters(
            total_contacts=total,
            contacted=contacted,
            connected=connected,
            abandon_rate=abandon_rate(abandoned, answered),
        )
    return result


async def _view(session: AsyncSession, campaign: Campaign, *, clock: Clock) -> CampaignView:
    return CampaignView(campaign, (await _counters(session, [campaign.id], clock=clock))[campaign.id])


async def _check_cli_group(session: AsyncSession, cli_group_id: uuid.UUID) -> None:
    if not await cli_groups.group_exists(session, cli_group_id):
        raise UnknownCliGroup(f"cli_group_id {cli_group_id} is not a CLI group of your organisation.")


async def _get(session: AsyncSession, campaign_id: uuid.UUID, *, for_update: bool = False) -> Campaign:
    campaign = await repository.get_campaign(session, campaign_id, for_update=for_update)
    if campaign is None:
        raise not_found(campaign_id)
    return campaign


async def create_campaign(
    session: AsyncSession, tenant_id: uuid.UUID, data: CampaignCreate, *, clock: Clock
) -> CampaignView:
    await _check_cli_group(session, data.cli_group_id)
    window = data.calling_window.times() if data.calling_window is not None else (None, None)
    now = clock.now()
    campaign = Campaign(
        id=new_id(),
        tenant_id=tenant_id,
        name=data.name,
        status=CampaignStatus.draft.value,
        dialing_mode=data.dialing_mode.value,
        cli_group_id=data.cli_group_id,
        max_attempts=data.max_attempts,
        retry_delay_minutes=data.retry_delay_minutes,
        dial_ratio=data.dial_ratio,
        timezone=data.timezone,
        wrap_up_seconds=data.wrap_up_seconds,
        abandon_rate_target=data.abandon_rate_target,
        abandon_lockout_hours=data.abandon_lockout_hours,
        abandon_message=data.abandon_message,
        calling_window_start=window[0],
        calling_window_end=window[1],
        created_at=now,
        updated_at=now,
        started_at=None,
        paused_at=None,
        completed_at=None,
    )
    await repository.add_campaign(session, campaign)
    # A new campaign has no contacts: nothing to count.
    return CampaignView(campaign, CampaignCounters())


async def get_campaign(session: AsyncSession, campaign_id: uuid.UUID, *, clock: Clock) -> CampaignView:
    return await _view(session, await _get(session, campaign_id), clock=clock)


async def ensure_exists(db: Reads, campaign_id: uuid.UUID) -> None:
    """A campaign of the caller's tenant has this id, else the campaign's 404 (another tenant's campaign reads as
    unknown): for the domains that scope a request to a campaign. (A read of the table: a campaign this session
    added is flushed when it is added.)"""
    if not await repository.exists(db, campaign_id):
        raise not_found(campaign_id)


def not_found(campaign_id: uuid.UUID) -> CampaignNotFound:
    """The campaign's 404: no campaign with this id in the caller's tenant (another tenant's reads as unknown)."""
    return CampaignNotFound(f"No campaign {campaign_id} in your organisation.")


async def list_campaigns(
    db: Reads,
    params: PageParams,
    *,
    status: CampaignStatus | None = None,
    dialing_mode: DialingMode | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    clock: Clock,
) -> dict[str, Any]:
    """A page of campaigns as the JSON body of `Page[CampaignRead]` (plain values, not models: see
    `CampaignRead.body_of_record`)."""
    if created_from is not None and created_to is not None and created_from > created_to:
        raise ValidationFailed(
            "created_from: must not be after created_to",
            extra={"errors": [{"field": "created_from", "message": "must not be after created_to"}]},
        )
    page = await repository.list_campaign_rows(
        db,
        params,
        since=clock.now() - ABANDON_WINDOW,
        status=status.value if status else None,
        dialing_mode=dialing_mode.value if dialing_mode else None,
        created_from=created_from,
        created_to=created_to,
    )
    return {
        "items": [
            CampaignRead.body_of_record(row, abandon_rate(int(row["abandoned"]), int(row["answered"])))
            for row in page.rows
        ],
        "total": page.total,
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


async def update_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, data: CampaignUpdate, *, clock: Clock
) -> CampaignView:
    campaign = await _get(session, campaign_id, for_update=True)
    if campaign.status not in EDITABLE:
        raise CampaignNotEditable(
            f"The campaign is {campaign.status}; its settings can be changed only while it is draft or paused."
        )
    changes = data.model_dump(exclude_unset=True)
    if "cli_group_id" in changes:
        await _check_cli_group(session, changes["cli_group_id"])
    if "calling_window" in changes:
        del changes["calling_window"]
        window = data.calling_window.times() if data.calling_window is not None else (None, None)
        campaign.calling_window_start, campaign.calling_window_end = window
    for name, value in changes.items():
        setattr(campaign, name, value.value if isinstance(value, DialingMode) else value)
    campaign.updated_at = clock.now()
    await repository.flush(session)
    return await _view(session, campaign, clock=clock)


async def _transition(session: AsyncSession, campaign_id: uuid.UUID, move: _Transition, *, clock: Clock) -> Campaign:
    campaign = await _get(session, campaign_id, for_update=True)
    current = CampaignStatus(campaign.status)
    if current not in move.allowed_from:
        allowed = " or ".join(sorted(move.allowed_from))
        raise InvalidCampaignTransition(
            f"The campaign is {current}; only a {allowed} campaign can be {move.verb}.",
            extra={"campaign_status": current.value},
        )
    if move is _START:
        await _check_ready_to_dial(session, campaign)
    now = clock.now()
    campaign.status = move.to.value
    campaign.updated_at = now
    if move is _START:
        campaign.started_at = now
    elif move is _PAUSE:
        campaign.paused_at = now
    else:
        campaign.completed_at = now
    await repository.flush(session)
    counters = (await _counters(session, [campaign.id], clock=clock))[campaign.id]
    payload: dict[str, Any] = {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "status": campaign.status,
        "previous_status": current.value,
        "dialing_mode": campaign.dialing_mode,
        f"{move.verb}_at": isoformat_z(now),
        "total_contacts": counters.total_contacts,
        "contacted": counters.contacted,
        "connected": counters.connected,
    }
    await record_event(session, campaign.tenant_id, move.event_type, payload, correlation_id=campaign.id, clock=clock)
    return campaign


async def _check_ready_to_dial(session: AsyncSession, campaign: Campaign) -> None:
    if await contacts.count_dialable(session, campaign.id, campaign.max_attempts) == 0:
        # The seed's detail, word for word.
        raise CampaignNoContacts("Upload contacts before starting the campaign.")
    agent_ids = await repository.dialing_agent_ids(session, campaign.id)
    if not agent_ids:
        raise CampaignNoAgents("Assign at least one agent to the campaign before starting it.")
    if await agents.count_logged_in(session, agent_ids) == 0:
        raise CampaignNoAgents(
            f"None of the {len(agent_ids)} agents assigned to the campaign is logged in; "
            "at least one must be before the campaign can start."
        )


async def start_campaign(session: AsyncSession, campaign_id: uuid.UUID, *, clock: Clock) -> Campaign:
    return await _transition(session, campaign_id, _START, clock=clock)


async def pause_campaign(session: AsyncSession, campaign_id: uuid.UUID, *, clock: Clock) -> Campaign:
    return await _transition(session, campaign_id, _PAUSE, clock=clock)


async def complete_campaign(session: AsyncSession, campaign_id: uuid.UUID, *, clock: Clock) -> Campaign:
    return await _transition(session, campaign_id, _COMPLETE, clock=clock)


async def assign_agents(
    session: AsyncSession, campaign_id: uuid.UUID, data: CampaignAgentsAssign, *, clock: Clock
) -> CampaignAgentsAssigned:
    campaign = await _get(session, campaign_id)
    requested = list(dict.fromkeys(data.agent_ids))  # each once, in request order
    known = await users.active_agent_ids(session, requested)
    unknown = [agent_id for agent_id in requested if agent_id not in known]
    if unknown:
        listed = ", ".join(str(a) for a in unknown)
        raise UnknownAgents(
            f"Not active agents of your organisation: {listed}.", extra={"agent_ids": [str(a) for a in unknown]}
        )
    added = await repository.assign_agents(session, campaign.tenant_id, campaign.id, requested, at=clock.now())
    rows = await repository.assigned_agents(session, campaign.id, requested)
    return CampaignAgentsAssigned(
        added=len(added),
        already_assigned=len(requested) - len(added),
        items=[CampaignAgentRead(id=r[0], full_name=r[1], email=r[2], assigned_at=r[3]) for r in rows],
    )


async def list_agents(
    session: AsyncSession, campaign_id: uuid.UUID, params: PageParams
) -> PageResult[CampaignAgentRead]:
    campaign = await _get(session, campaign_id)
    page = await repository.list_assignments(session, campaign.id, params)
    rows = await repository.assigned_agents(session, campaign.id, [a.agent_id for a in page.rows])
    return PageResult(
        rows=[CampaignAgentRead(id=r[0], full_name=r[1], email=r[2], assigned_at=r[3]) for r in rows],
        total=page.total,
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )


def calling_contexts(campaign_ids: ColumnElement[list[uuid.UUID]]) -> Fact[dict[uuid.UUID, CallingContext]]:
    """Calling window and CLI numbers of those campaigns, among the ids in the array `campaign_ids`, the tenant
    has: the compliance gate's campaign fact, gathered with its others in one statement. An id absent from the
    result is not a campaign of the tenant."""
    return repository.calling_contexts(campaign_ids)
