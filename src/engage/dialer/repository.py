"""The dialer's queries: leases and orphaned calls (across tenants, through the SECURITY DEFINER functions of
migrations 20261205_1000 and 20261205_1400), and, inside a tenant transaction, the live state the dialer alone
drives: the hopper, call rows as the switch reports them, contacts' dial state, agents' dialer-owned states
(`reserved`, `on_call`, `wrap_up`), the hourly campaign figures and SIP registrations; and what the pacer and the
campaign diagnostics read of them (recent calls, aggregates that cost the same whatever a campaign holds).

No other domain writes these columns (agents' service never sets the dialer-owned states; contacts' only
inserts), which is why they are written here rather than through each domain's service: one transaction per
event or tick, one round trip per statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal_column, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engage.agents.models import AgentState, SipRegistration
from engage.calls.models import LIVE_STATUSES, Call
from engage.campaigns.models import Campaign, CampaignAgent, CampaignHourly
from engage.cli_groups.models import CliNumber
from engage.contacts.models import Contact
from engage.core.principal import Role
from engage.core.sql import among
from engage.users.models import User

from .pacing import CallSample, CampaignHistory

# -- across tenants ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lease:
    tenant_id: uuid.UUID
    campaign_id: uuid.UUID
    # Set only on the heartbeat that took the lease over from a worker that went silent.
    taken_over_from: str | None


async def heartbeat(
    session: AsyncSession,
    worker_id: str,
    *,
    hostname: str,
    pid: int,
    now: datetime,
    stale_seconds: int,
    switch_connected: bool,
) -> list[Lease]:
    rows = await session.execute(
        text("SELECT * FROM engage_dialer_heartbeat(:worker, :hostname, :pid, :now, :stale, :switch_connected)"),
        {
            "worker": worker_id,
            "hostname": hostname[:200],
            "pid": pid,
            "now": now,
            "stale": stale_seconds,
            "switch_connected": switch_connected,
        },
    )
    return [Lease(row.tenant_id, row.campaign_id, row.taken_over_from) for row in rows]


async def release(session: AsyncSession, worker_id: str) -> int:
    return int(await session.scalar(text("SELECT engage_dialer_release(:worker)"), {"worker": worker_id}) or 0)


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """The worker pacing a campaign, as its last heartbeat left it. `hostname`, `pid`, `heartbeat_at` and
    `switch_connected` are None when the worker's row is gone (forgotten long after it went silent), and
    `switch_connected` also for a worker that predates the flag."""

    worker_id: str
    hostname: str | None
    pid: int | None
    acquired_at: datetime
    heartbeat_at: datetime | None
    switch_connected: bool | None


async def lease_holder(session: AsyncSession, campaign_id: uuid.UUID) -> LeaseHolder | None:
    """Who holds the campaign's lease (migration 20261205_1400; the function answers only within the
    transaction's tenant); None when nobody does."""
    row = (
        await session.execute(text("SELECT * FROM engage_dialer_lease_holder(:campaign)"), {"campaign": campaign_id})
    ).first()
    if row is None:
        return None
    return LeaseHolder(row.worker_id, row.hostname, row.pid, row.acquired_at, row.heartbeat_at, row.switch_connected)


@dataclass(frozen=True, slots=True)
class OrphanCall:
    tenant_id: uuid.UUID
    call_id: uuid.UUID
    previous_worker: str | None


async def orphan_calls(
    session: AsyncSession, worker_id: str, *, now: datetime, stale_seconds: int, batch: int = 50
) -> list[OrphanCall]:
    rows = await session.execute(
        text("SELECT * FROM engage_dialer_orphan_calls(:worker, :now, :stale, :batch)"),
        {"worker": worker_id, "now": now, "stale": stale_seconds, "batch": batch},
    )
    return [OrphanCall(row.tenant_id, row.call_id, row.previous_worker) for row in rows]


async def record_registration(
    session: AsyncSession, sip_user: str, *, registered: bool, at: datetime, user_agent: str | None = None
) -> None:
    statement = insert(SipRegistration).values(
        sip_user=sip_user,
        registered=registered,
        registered_at=at if registered else None,
        changed_at=at,
        user_agent=user_agent,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SipRegistration.sip_user],
            set_={
                "registered": statement.excluded.registered,
                # A repeated registration keeps its first instant: how long the phone has been up.
                "registered_at": func.coalesce(SipRegistration.registered_at, statement.excluded.registered_at)
                if registered
                else None,
                "changed_at": statement.excluded.changed_at,
                "user_agent": func.coalesce(statement.excluded.user_agent, SipRegistration.user_agent),
            },
        )
    )


# -- campaigns and agents ----------------------------------------------------------------------------------------


async def get_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign | None:
    return await session.get(Campaign, campaign_id)


async def cli_numbers(session: AsyncSession, cli_group_id: uuid.UUID) -> list[str]:
    query = select(CliNumber.number).where(CliNumber.cli_group_id == cli_group_id).order_by(CliNumber.number)
    return list((await session.scalars(query)).all())


async def any_cli_number(session: AsyncSession) -> str | None:
    """The tenant's first caller ID (by number), for a manual call without a campaign or an override."""
    return await session.scalar(select(CliNumber.number).order_by(CliNumber.number).limit(1))


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent_id: uuid.UUID
    full_name: str
    sip_user: str | None
    state: str
    state_since: datetime | None
    current_call_id: uuid.UUID | None
    wrap_up_until: datetime | None


def _agent_columns() -> Select[uuid.UUID, str, str | None, str, datetime, uuid.UUID | None, datetime | None]:
    """What an `AgentRow` holds; the caller joins `agent_states` (outer: no row means offline)."""
    return select(
        User.id,
        User.full_name,
        User.sip_user,
        AgentState.state,
        AgentState.state_since,
        AgentState.current_call_id,
        AgentState.wrap_up_until,
    )


async def campaign_agents(session: AsyncSession, campaign_id: uuid.UUID) -> list[AgentRow]:
    """The campaign's assigned agents who may take calls (active, role agent), with their live state."""
    query = (
        _agent_columns()
        .join(CampaignAgent, CampaignAgent.agent_id == User.id)
        .outerjoin(AgentState, AgentState.agent_id == User.id)
        .where(CampaignAgent.campaign_id == campaign_id, User.role == Role.agent.value, User.is_active.is_(True))
        .order_by(User.id)
    )
    return [
        AgentRow(r[0], r[1], r[2], r[3] or "offline", r[4], r[5], r[6]) for r in (await session.execute(query)).all()
    ]


async def agent(session: AsyncSession, agent_id: uuid.UUID) -> AgentRow | None:
    query = (
        _agent_columns()
        .outerjoin(AgentState, AgentState.agent_id == User.id)
        .where(User.id == agent_id, User.role == Role.agent.value, User.is_active.is_(True))
    )
    row = (await session.execute(query)).first()
    return AgentRow(row[0], row[1], row[2], row[3] or "offline", row[4], row[5], row[6]) if row else None


@dataclass(frozen=True, slots=True)
class StateChange:
    agent_id: uuid.UUID
    full_name: str
    previous: str
    state: str
    state_since: datetime
    reason: str | None


_previous = AgentState.__table__.alias("previous")


async def move_agents(
    session: AsyncSession,
    agent_ids: Sequence[uuid.UUID],
    *,
    to: str,
    now: datetime,
    from_states: Sequence[str],
    current_call_id: uuid.UUID | None = None,
    only_call_id: uuid.UUID | None = None,
    wrap_up_until: datetime | None = None,
) -> list[StateChange]:
    """Move those of the agents that are in one of `from_states` (and, with `only_call_id`, are on that call)
    to `to`, in one statement; the changes actually made, for their events. Concurrent movers of one agent
    serialise on its row and the second finds it already moved."""
    if not agent_ids:
        return []
    conditions: list[ColumnElement[bool]] = [among(AgentState.agent_id, agent_ids), AgentState.state.in_(from_states)]
    if only_call_id is not None:
        conditions.append(AgentState.current_call_id == only_call_id)
    statement = (
        update(AgentState)
        .where(*conditions, _previous.c.agent_id == AgentState.agent_id, User.id == AgentState.agent_id)
        .values(state=to, state_since=now, current_call_id=current_call_id, wrap_up_until=wrap_up_until, reason=None)
        .returning(AgentState.agent_id, User.full_name, _previous.c.state, AgentState.state_since, _previous.c.reason)
    )
    rows = (await session.execute(statement)).all()
    return [StateChange(r[0], r[1], r[2], to, r[3], r[4]) for r in rows]


async def reserve_longest_idle(
    session: AsyncSession, campaign_id: uuid.UUID, registered: Sequence[str], *, call_id: uuid.UUID, now: datetime
) -> tuple[AgentRow, StateChange] | None:
    """The campaign's agent who has been `available` longest, SIP-registered, reserved for `call_id`
    (SKIP LOCKED: two workers never reserve one agent); None when nobody can take the call."""
    if not registered:
        return None
    candidate = (
        select(AgentState.agent_id)
        .join(User, User.id == AgentState.agent_id)
        .join(CampaignAgent, and_(CampaignAgent.agent_id == User.id, CampaignAgent.campaign_id == campaign_id))
        .where(
            AgentState.state == "available",
            User.is_active.is_(True),
            User.role == Role.agent.value,
            among(User.sip_user, registered),
        )
        .order_by(AgentState.state_since, AgentState.agent_id)
        .limit(1)
        .with_for_update(of=AgentState, skip_locked=True)
    )
    agent_id = await session.scalar(candidate)
    if agent_id is None:
        return None
    changes = await move_agents(
        session, [agent_id], to="reserved", now=now, from_states=["available"], current_call_id=call_id
    )
    row = await agent(session, agent_id)
    if not changes or row is None:
        return None
    return row, changes[0]


async def due_wrap_ups(session: AsyncSession, agent_ids: Sequence[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    if not agent_ids:
        return []
    query = select(AgentState.agent_id).where(
        among(AgentState.agent_id, agent_ids), AgentState.state == "wrap_up", AgentState.wrap_up_until <= now
    )
    return list((await session.scalars(query)).all())


# -- the hopper --------------------------------------------------------------------------------------------------


def _dialable(campaign: Campaign, now: datetime) -> list[Any]:
    return [
        Contact.campaign_id == campaign.id,
        Contact.status == "pending",
        Contact.attempts < campaign.max_attempts,
        Contact.callback_agent_id.is_(None),
        or_(Contact.next_attempt_at.is_(None), Contact.next_attempt_at <= now),
        or_(Contact.reserved_until.is_(None), Contact.reserved_until <= now),
    ]


async def take_contacts(session: AsyncSession, campaign: Campaign, now: datetime, limit: int) -> list[Contact]:
    """The next `limit` dialable contacts — never tried first, then due retries, each in upload order (ids are
    UUIDv7) — locked with SKIP LOCKED, so two workers (or a worker and a preview request) never take one."""
    if limit <= 0:
        return []
    query = (
        select(Contact)
        .where(*_dialable(campaign, now))
        .order_by(Contact.attempts > 0, Contact.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def take_callbacks(
    session: AsyncSession, campaign: Campaign, agent_ids: Sequence[uuid.UUID], now: datetime
) -> list[Contact]:
    """Due callbacks whose agent is among `agent_ids` (those free to take one), one per agent."""
    if not agent_ids:
        return []
    query = (
        select(Contact)
        .where(
            Contact.campaign_id == campaign.id,
            Contact.status == "pending",
            among(Contact.callback_agent_id, agent_ids),
            Contact.next_attempt_at <= now,
        )
        .order_by(Contact.next_attempt_at, Contact.id)
        .limit(len(agent_ids))
        .with_for_update(skip_locked=True)
    )
    taken: dict[uuid.UUID, Contact] = {}
    for contact in (await session.scalars(query)).all():
        if contact.callback_agent_id is not None and contact.callback_agent_id not in taken:
            taken[contact.callback_agent_id] = contact
    return list(taken.values())


async def take_preview(session: AsyncSession, campaign: Campaign, now: datetime) -> Contact | None:
    taken = await take_contacts(session, campaign, now, 1)
    return taken[0] if taken else None


async def held_preview(session: AsyncSession, agent_id: uuid.UUID, now: datetime) -> Contact | None:
    query = select(Contact).where(Contact.reserved_by == agent_id, Contact.reserved_until > now).limit(1)
    return (await session.scalars(query.with_for_update())).first()


async def contact_for_update(session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
    query = select(Contact).where(Contact.id == contact_id).with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def get_contact(session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
    return await session.get(Contact, contact_id)


async def has_work_left(session: AsyncSession, campaign: Campaign) -> bool:
    """Whether any contact may still be dialled, now or later (a retry, a callback, a calling-hours wait), or
    is being dialled."""
    pending = exists().where(
        Contact.campaign_id == campaign.id,
        or_(
            Contact.status == "dialing",
            and_(
                Contact.status == "pending",
                or_(Contact.attempts < campaign.max_attempts, Contact.callback_agent_id.is_not(None)),
            ),
        ),
    )
    live = exists().where(Call.campaign_id == campaign.id, Call.status.in_(LIVE_STATUSES))
    return bool(await session.scalar(select(or_(pending, live))))


# -- calls -------------------------------------------------------------------------------------------------------


async def add_call(session: AsyncSession, call: Call) -> None:
    session.add(call)


async def get_call(session: AsyncSession, call_id: uuid.UUID, *, lock: bool = False) -> Call | None:
    """The call (from the session when already loaded: its unflushed changes are kept). `lock`: re-read and hold
    its row until the transaction ends."""
    if not lock:
        return await session.get(Call, call_id)
    query = select(Call).where(Call.id == call_id).with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def agent_latest_call(session: AsyncSession, agent_id: uuid.UUID, *, ended_since: datetime) -> Call | None:
    """The agent's latest live call; else its latest call that reached it (bridged) and ended after `ended_since`
    without a disposition."""
    waiting = and_(Call.bridged_at.is_not(None), Call.ended_at > ended_since, Call.dispositioned_at.is_(None))
    query = (
        select(Call)
        .where(Call.agent_id == agent_id, or_(Call.ended_at.is_(None), waiting))
        .order_by(Call.ended_at.is_(None).desc(), Call.started_at.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def live_calls(session: AsyncSession, campaign_id: uuid.UUID) -> list[Call]:
    query = (
        select(Call)
        .where(Call.campaign_id == campaign_id, Call.status.in_(LIVE_STATUSES))
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(query)).all())


async def unplaced_calls(session: AsyncSession, campaign_id: uuid.UUID, worker_id: str) -> list[Call]:
    """Calls the API accepted for this campaign (originate, preview) that no worker has placed yet."""
    query = (
        select(Call)
        .where(
            Call.campaign_id == campaign_id,
            Call.status == "dialing",
            Call.placed_at.is_(None),
            or_(Call.worker_id.is_(None), Call.worker_id == worker_id),
        )
        .order_by(Call.id)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def hangup_requests(session: AsyncSession, call_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    if not call_ids:
        return []
    query = select(Call.id).where(
        among(Call.id, call_ids), Call.hangup_requested_at.is_not(None), Call.status.in_(LIVE_STATUSES)
    )
    return list((await session.scalars(query)).all())


async def bump_hourly(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID, at: datetime, **deltas: int
) -> None:
    hour = at.replace(minute=0, second=0, microsecond=0)
    values = {"dialled": 0, "answered": 0, "abandoned": 0, "connected": 0} | deltas
    statement = insert(CampaignHourly).values(tenant_id=tenant_id, campaign_id=campaign_id, hour=hour, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[CampaignHourly.campaign_id, CampaignHourly.hour],
            set_={name: getattr(CampaignHourly, name) + amount for name, amount in deltas.items()},
        )
    )


async def rolling_history(session: AsyncSession, campaign_id: uuid.UUID, since: datetime) -> tuple[int, int, int]:
    """(dialled, answered, abandoned) over the hourly rows since `since`."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(CampaignHourly.dialled), 0),
                func.coalesce(func.sum(CampaignHourly.answered), 0),
                func.coalesce(func.sum(CampaignHourly.abandoned), 0),
            ).where(CampaignHourly.campaign_id == campaign_id, CampaignHourly.hour > since)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def recent_history(session: AsyncSession, campaign_id: uuid.UUID, limit: int) -> CampaignHistory:
    """The campaign's last `limit` decided dials as the pacer's samples, and the talk times of the finished calls
    among them, each oldest first (the seam's `CampaignHistory`; its rolling counts are left at zero, the caller
    adds `rolling_history`). One query. A dial is decided once it was bridged, abandoned or ended, at the first of
    those (`CallSample.at`); its ring time runs from its placing (its creation if never placed) to its answer, or
    to that moment if never answered; a person answered when it was bridged or abandoned (a machine is neither).
    "Last" by id (UUIDv7: the order the calls were made), which `ix_calls_campaign_id_id` serves without sorting
    the campaign's calls."""
    query = (
        select(
            Call.started_at,
            Call.placed_at,
            Call.answered_at,
            Call.bridged_at,
            Call.ended_at,
            Call.abandoned,
            Call.talk_time_seconds,
        )
        .where(
            Call.campaign_id == campaign_id,
            or_(Call.ended_at.is_not(None), Call.bridged_at.is_not(None), Call.abandoned),
        )
        .order_by(Call.id.desc())
        .limit(limit)
    )
    samples: list[CallSample] = []
    talks: list[tuple[datetime, float]] = []
    for started, placed, answered, bridged, ended, abandoned, talk in (await session.execute(query)).all():
        decided = bridged or ended or answered or started
        ring = max(0.0, ((answered or decided) - (placed or started)).total_seconds())
        samples.append(
            CallSample(at=decided, ring_seconds=ring, human=bridged is not None or abandoned, abandoned=abandoned)
        )
        if bridged is not None and ended is not None and talk is not None:
            talks.append((ended, float(talk)))
    samples.sort(key=lambda sample: sample.at)
    talks.sort(key=lambda item: item[0])
    return CampaignHistory(recent=tuple(samples), talks=tuple(seconds for _, seconds in talks))


async def flush(session: AsyncSession) -> None:
    await session.flush()


# -- the API's control requests (dialer.control) -------------------------------------------------------------------


async def sip_registered(session: AsyncSession, sip_user: str) -> bool:
    """Whether the switch last reported this SIP user registered (no row: never registered)."""
    query = select(SipRegistration.registered).where(SipRegistration.sip_user == sip_user)
    return bool(await session.scalar(query))


async def registered_sip_users(session: AsyncSession, sip_users: Collection[str]) -> set[str]:
    """Those of `sip_users` the switch last reported registered (`sip_registrations`, written by the workers)."""
    if not sip_users:
        return set()
    query = select(SipRegistration.sip_user).where(
        among(SipRegistration.sip_user, sip_users), SipRegistration.registered.is_(True)
    )
    return set((await session.scalars(query)).all())


async def preview_campaigns(session: AsyncSession, agent_id: uuid.UUID) -> list[Campaign]:
    """The active preview campaigns the agent is assigned to, oldest first (ids are UUIDv7)."""
    query = (
        select(Campaign)
        .join(CampaignAgent, and_(CampaignAgent.campaign_id == Campaign.id, CampaignAgent.agent_id == agent_id))
        .where(Campaign.status == "active", Campaign.dialing_mode == "preview")
        .order_by(Campaign.created_at, Campaign.id)
    )
    return list((await session.scalars(query)).all())


# -- diagnostics (GET /v1/campaigns/{id}/diagnostics): aggregates, a bounded number of rows whatever the list holds --

# Pending contacts are grouped by the first digits of their number ("+" and three digits: the country code, and
# for +1 and +7 the start of the area code), at most 1,000 groups, each looked up by one representative number.
_PREFIX_LENGTH = 4
# Constants in the SQL text, not bound parameters: a generic plan of a prepared statement cannot prove a partial
# index's predicate (`status = 'pending'`, `channel = 'dialer'`) from a parameter.
_PENDING: ColumnElement[str] = literal_column("'pending'")
_DIALER_CHANNEL: ColumnElement[str] = literal_column("'dialer'")


async def contact_status_counts(session: AsyncSession, campaign_id: uuid.UUID) -> dict[str, int]:
    query = select(Contact.status, func.count()).where(Contact.campaign_id == campaign_id).group_by(Contact.status)
    return {status: int(count) for status, count in (await session.execute(query)).all()}


@dataclass(frozen=True, slots=True)
class PendingGroup:
    """A campaign's pending contacts whose numbers share a prefix. The hopper's contacts (attempts left, no
    callback) are `remaining`: `due` now and not held for a preview, `waiting` for a later attempt (the earliest
    at `next_at`) or `held` by an agent's preview. `callbacks` wait for the agent who asked for them."""

    prefix: str
    sample: str | None  # one of the group's remaining numbers (None: it has only callbacks)
    remaining: int
    due: int
    waiting: int
    next_at: datetime | None
    held: int
    callbacks: int
    next_callback_at: datetime | None


async def pending_groups(session: AsyncSession, campaign: Campaign, now: datetime) -> list[PendingGroup]:
    """One aggregate over the campaign's pending contacts (the partial index `ix_contacts_hopper` covers them)."""
    hopper = and_(Contact.attempts < campaign.max_attempts, Contact.callback_agent_id.is_(None))
    waiting = and_(hopper, Contact.next_attempt_at > now)
    not_waiting = and_(hopper, or_(Contact.next_attempt_at.is_(None), Contact.next_attempt_at <= now))
    held = and_(not_waiting, Contact.reserved_until > now)
    due = and_(not_waiting, or_(Contact.reserved_until.is_(None), Contact.reserved_until <= now))
    callback = Contact.callback_agent_id.is_not(None)
    prefix = func.left(Contact.phone, _PREFIX_LENGTH)
    query = (
        select(
            prefix,
            func.min(Contact.phone).filter(hopper),
            func.count().filter(hopper),
            func.count().filter(due),
            func.count().filter(waiting),
            func.min(Contact.next_attempt_at).filter(waiting),
            func.count().filter(held),
            func.count().filter(callback),
            func.min(Contact.next_attempt_at).filter(callback),
        )
        .where(Contact.campaign_id == campaign.id, Contact.status == _PENDING)
        .group_by(prefix)
        .order_by(prefix)
    )
    return [
        PendingGroup(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), r[5], int(r[6]), int(r[7]), r[8])
        for r in (await session.execute(query)).all()
    ]
