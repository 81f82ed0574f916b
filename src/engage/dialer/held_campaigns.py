"""What a dialer worker does for each campaign it holds at a tick: end agents' wrap-ups, collect the calls to
place (left unplaced, or opened now as the campaign's pacer decides) and those hung up before their dial, say
which agents' phones to register (sim mode), and complete a campaign whose list is exhausted. It also keeps what
a campaign needs between ticks (its pacer, its recent calls).

Invariants: everything read or written for one campaign at a tick is one tenant transaction, committed before
any of its calls is placed (a call row exists before its leg). Pausing a campaign stops new attempts at the next
tick; calls already opened are still placed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.calls.models import Call
from engage.campaigns import service as campaigns_service
from engage.campaigns.models import Campaign
from engage.compliance.engine import Engine
from engage.contacts.models import Contact
from engage.core.clock import Clock
from engage.core.db import tenant_transaction

from . import repository, service, snapshots
from .call_flow import CallFlow
from .modes import pacer_for
from .pacing import AgentActivity, CampaignHistory, LineSnapshot, Pacer
from .repository import AgentRow, Lease
from .worker_config import WorkerConfig

log = structlog.get_logger("engage.dialer")

# How often a campaign with nothing to dial checks whether its list is exhausted (it then completes itself).
COMPLETION_CHECK_SECONDS = 1.0
# How often a campaign's recent calls (the predictive model's samples) are re-read: one query per campaign every
# few seconds rather than every tick; a model fed a few hundred calls barely moves in 5 s.
RECENT_REFRESH_SECONDS = 5.0


def sip_user_of(agents: list[AgentRow], agent_id: uuid.UUID | None) -> str | None:
    """The SIP user of a campaign's agent, if `agent_id` is one of them."""
    return next((a.sip_user for a in agents if a.agent_id == agent_id), None) if agent_id else None


@dataclass(slots=True)
class _CampaignMemory:
    """What the worker keeps of a campaign it paces between ticks: its pacer (one object for as long as the lease
    is held and the mode unchanged, so the predictive one keeps its memos), its recent calls (re-read every
    `RECENT_REFRESH_SECONDS`) and the pacer's last reason (logged when it changes)."""

    mode: str
    pacer: Pacer
    last_completion_check: float = 0.0
    recent: CampaignHistory = field(default_factory=CampaignHistory)
    recent_read_at: float = -math.inf
    last_reason: str | None = None


@dataclass(slots=True)
class TickWork:
    """What a campaign's tick leaves the worker to do, in this order, once its transaction has committed."""

    # (sip_user, register?) for agents whose phone should change (sim mode only).
    phone_changes: list[tuple[str, bool]] = field(default_factory=list)
    # Hung up (by the API) before any worker placed them.
    cancelled: list[Call] = field(default_factory=list)
    # (call, the agent's SIP user if chosen beforehand, the campaign's abandon message).
    to_place: list[tuple[Call, str | None, str | None]] = field(default_factory=list)


class HeldCampaigns:
    """The campaigns one worker holds. `follow_phones`: agents' phones are simulated (DESIGN.md §2), so the worker
    registers a phone while its agent is not offline. `registered` is the worker's live view of the switch."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        engine: Engine,
        config: WorkerConfig,
        worker_id: str,
        loop_time: Callable[[], float],
        registered: Set[str],
        flow: CallFlow,
        follow_phones: bool,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.engine = engine
        self.config = config
        self.worker_id = worker_id
        self.loop_time = loop_time
        self._registered = registered
        self._flow = flow
        self._follow_phones = follow_phones
        self._memory: dict[uuid.UUID, _CampaignMemory] = {}

    def forget(self, campaign_id: uuid.UUID) -> None:
        """The lease is gone: a later holder of it starts afresh."""
        self._memory.pop(campaign_id, None)

    async def tick(self, lease: Lease) -> TickWork:
        now = self.clock.now()
        work = TickWork()
        async with tenant_transaction(self.sessions, lease.tenant_id) as session:
            campaign = await repository.get_campaign(session, lease.campaign_id)
            if campaign is None:
                return TickWork()
            agents = await repository.campaign_agents(session, campaign.id)
            work.phone_changes = self._phone_changes(agents)
            await service.end_wrap_ups(session, campaign.tenant_id, [a.agent_id for a in agents], now)
            for call in await repository.unplaced_calls(session, campaign.id, self.worker_id):
                call.worker_id = self.worker_id
                if call.hangup_requested_at is not None:
                    work.cancelled.append(call)
                    continue
                sip_user = sip_user_of(agents, call.agent_id)
                if sip_user is None and call.agent_id is not None:
                    # An originate for an agent not assigned to the campaign still goes to that agent.
                    row = await repository.agent(session, call.agent_id)
                    sip_user = row.sip_user if row is not None else None
                work.to_place.append((call, sip_user, campaign.abandon_message))
            if campaign.status == "active":
                calls = await self._open_attempts(session, campaign, agents, now)
                work.to_place += [
                    (call, sip_user_of(agents, call.agent_id), campaign.abandon_message) for call in calls
                ]
                if not calls:
                    await self._maybe_complete(session, campaign)
        return work

    async def _open_attempts(
        self, session: AsyncSession, campaign: Campaign, agents: list[AgentRow], now: datetime
    ) -> list[Call]:
        memory = self._memory_for(campaign)
        now_loop = self.loop_time()
        if now_loop - memory.recent_read_at >= RECENT_REFRESH_SECONDS:
            memory.recent = await snapshots.recent_history(session, campaign.id)
            memory.recent_read_at = now_loop
        lines = tuple(
            LineSnapshot(seconds_ringing=now_loop - live.started, answered=live.answered_at is not None)
            for live in self._flow.calls.values()
            if live.campaign_id == campaign.id and not live.bridged and not live.ended and not live.abandoned
        )
        snapshot = await snapshots.pacing_snapshot(
            session,
            campaign,
            now=now,
            registered=self._registered,
            limits=self.config.pacing_limits,
            agents=agents,
            lines=lines,
            recent=memory.recent,
        )
        decision = memory.pacer.decide(snapshot)
        if decision.reason != memory.last_reason:
            memory.last_reason = decision.reason
            log.debug("dialer.pacing", campaign_id=str(campaign.id), lines=decision.lines, reason=decision.reason)
        wanted = min(decision.lines, self.config.max_lines_per_tick)
        free = [
            agent.agent_id
            for agent, seen in zip(agents, snapshot.agents, strict=True)
            if seen.activity is AgentActivity.available
        ]
        picked: list[tuple[Contact, uuid.UUID | None]] = []
        if free:
            callbacks = await repository.take_callbacks(session, campaign, free, now)
            picked += [(contact, contact.callback_agent_id) for contact in callbacks]
        if wanted > len(picked):
            contacts = await repository.take_contacts(session, campaign, now, wanted - len(picked))
            picked += [(contact, None) for contact in contacts]
        if not picked:
            return []
        calls, blocked = await service.open_attempts(
            session, campaign, picked, engine=self.engine, worker_id=self.worker_id, now=now
        )
        if blocked:
            log.info("dialer.compliance_blocked", campaign_id=str(campaign.id), blocked=len(blocked))
        return calls

    def _memory_for(self, campaign: Campaign) -> _CampaignMemory:
        """The campaign's memory, its pacer made anew when the campaign's dialing mode changed (a paused campaign
        may be switched to another mode)."""
        mode = campaign.dialing_mode
        memory = self._memory.get(campaign.id)
        if memory is None:
            memory = self._memory[campaign.id] = _CampaignMemory(mode, pacer_for(mode))
        elif memory.mode != mode:
            memory.mode, memory.pacer, memory.last_reason = mode, pacer_for(mode), None
        return memory

    async def _maybe_complete(self, session: AsyncSession, campaign: Campaign) -> None:
        memory = self._memory_for(campaign)
        now_loop = self.loop_time()
        if now_loop - memory.last_completion_check < COMPLETION_CHECK_SECONDS:
            return
        memory.last_completion_check = now_loop
        if any(live.campaign_id == campaign.id for live in self._flow.calls.values()):
            return
        if await repository.has_work_left(session, campaign):
            return
        await campaigns_service.complete_campaign(session, campaign.id, clock=self.clock)
        log.info("dialer.campaign_completed", campaign_id=str(campaign.id))

    def _phone_changes(self, agents: list[AgentRow]) -> list[tuple[str, bool]]:
        """Sim mode (DESIGN.md §2): an agent's phone is registered while the agent is not offline."""
        if not self._follow_phones:
            return []
        changes = []
        for agent in agents:
            if agent.sip_user is None:
                continue
            wanted = agent.state != "offline"
            if wanted != (agent.sip_user in self._registered):
                changes.append((agent.sip_user, wanted))
        return changes
