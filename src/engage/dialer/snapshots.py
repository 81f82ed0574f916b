"""The pacer's view of a campaign, read from the database: the one place a `PacingSnapshot` is put together, so
the worker's decisions and `GET /v1/campaigns/{id}/diagnostics` see a campaign the same way.

The worker passes what it knows better than the database: its own lines in flight (ring ages on its loop clock,
without waiting for a commit) and its recent history, cached per campaign for a few seconds. Given nothing, the
builder reads the database's: the campaign's live calls and its recent calls, now.

Invariants: an agent counts as `available` only when its state is `available` and its SIP user is in the
`registered` set given (the worker's from the switch's events, the API's from `sip_registrations`); `reserved`,
`on_call` and `wrap_up` are busy, with that phase; any other state of a logged-in agent is away.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from engage.calls.models import Call
from engage.campaigns.models import Campaign

from . import repository
from .pacing import AgentActivity, AgentPhase, AgentSnapshot, CampaignHistory, LineSnapshot, PacingSnapshot
from .repository import AgentRow
from .simulation import HISTORY_SIZE

# DESIGN.md §3, the silent-call rule: a callee answered and not bridged to an agent within 2 s is abandoned.
ABANDON_AFTER_SECONDS = 2.0
# The decided dials the pacer learns from: as many as the floor simulation the predictive model is tuned on keeps.
RECENT_CALLS = HISTORY_SIZE
# The abandon rate is measured per campaign over a rolling 24 h (DESIGN.md §3).
ROLLING_WINDOW = timedelta(hours=24)

_BUSY_PHASES = {phase.value: phase for phase in AgentPhase}


@dataclass(frozen=True, slots=True)
class PacingLimits:
    """The call-cycle settings of the workers that the pacer reads: `WorkerConfig` in a worker, `DialerSettings`
    in the API (which has no worker of its own to ask)."""

    ring_timeout_seconds: float
    abandon_after_seconds: float = ABANDON_AFTER_SECONDS


def agent_snapshot(agent: AgentRow, registered: Collection[str], now: datetime) -> AgentSnapshot:
    """What the pacer needs of one agent: its activity, its phase when busy, and how long it has been in it."""
    since = max(0.0, (now - agent.state_since).total_seconds()) if agent.state_since is not None else 0.0
    phase = _BUSY_PHASES.get(agent.state)
    if agent.state == "offline":
        activity = AgentActivity.offline
    elif phase is not None:
        activity = AgentActivity.busy
    elif agent.state == "available" and agent.sip_user is not None and agent.sip_user in registered:
        activity = AgentActivity.available
    else:
        activity = AgentActivity.away
    return AgentSnapshot(activity=activity, seconds_in_state=since, phase=phase)


def lines_of(calls: Iterable[Call], now: datetime) -> tuple[LineSnapshot, ...]:
    """The customer legs of live calls that want an agent or may soon: ringing, or answered and waiting. A bridged
    call has its agent; an abandoned one (its message playing, or being hung up) will never get one."""
    return tuple(
        LineSnapshot(
            seconds_ringing=max(0.0, (now - (call.placed_at or call.started_at)).total_seconds()),
            answered=call.answered_at is not None,
        )
        for call in calls
        if call.ended_at is None and call.bridged_at is None and not call.abandoned
    )


async def pacing_snapshot(
    session: AsyncSession,
    campaign: Campaign,
    *,
    now: datetime,
    registered: Collection[str],
    limits: PacingLimits,
    agents: Sequence[AgentRow] | None = None,
    lines: tuple[LineSnapshot, ...] | None = None,
    recent: CampaignHistory | None = None,
) -> PacingSnapshot:
    """The campaign's snapshot at `now`, inside the caller's tenant transaction. `agents` (the campaign's, as
    `repository.campaign_agents` reads them), `lines` and `recent` (`repository.recent_history`) are read here
    when not given; the rolling 24 h counts always are (one aggregate over at most 25 hourly rows)."""
    if agents is None:
        agents = await repository.campaign_agents(session, campaign.id)
    if lines is None:
        lines = lines_of(await repository.live_calls(session, campaign.id), now)
    if recent is None:
        recent = await recent_history(session, campaign.id)
    dialled, answered, abandoned = await repository.rolling_history(session, campaign.id, now - ROLLING_WINDOW)
    return PacingSnapshot(
        now=now,
        agents=tuple(agent_snapshot(agent, registered, now) for agent in agents),
        lines=lines,
        dial_ratio=float(campaign.dial_ratio),
        abandon_rate_target=float(campaign.abandon_rate_target),
        history=replace(recent, dialled=dialled, answered=answered, abandoned=abandoned),
        wrap_up_seconds=float(campaign.wrap_up_seconds),
        ring_timeout_seconds=float(limits.ring_timeout_seconds),
        abandon_after_seconds=limits.abandon_after_seconds,
    )


async def recent_history(session: AsyncSession, campaign_id: uuid.UUID) -> CampaignHistory:
    """The campaign's last `RECENT_CALLS` decided dials and their talk times (without the rolling counts)."""
    return await repository.recent_history(session, campaign_id, RECENT_CALLS)
