"""The dialer worker: leases campaigns, paces each one it holds, places calls through the `Switch` port and
follows them through the switch's events to their end. `engage serve` runs one in-process; `engage worker`
runs it alone, any number of them.

Invariants:
- A campaign is paced by the one worker holding its lease (renewed by a heartbeat); a worker that goes silent
  for `lease_stale_seconds` loses it, and the next holder first reconciles the campaign's live calls with the
  switch: a leg the switch still has is adopted (its events now come here), one it does not is ended, and a
  callee still ringing or waiting for an agent is let go. No call stays live and no contact `dialing` forever.
- A call row exists (committed) before its leg is originated, so every event of the leg finds its row; a leg
  whose originate was not confirmed is killed and its call ended `failed`.
- Switch events are handled one at a time in the switch's order, so a call's events are applied in order.
- Pausing a campaign stops new attempts at the next tick; calls in progress go on to their end.
- A graceful stop hands the leases back at once; live calls are then adopted by the next holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.calls.models import Call, CallOrigin, CallStatus
from engage.campaigns import service as campaigns_service
from engage.campaigns.models import Campaign
from engage.compliance.engine import Engine
from engage.config import DialerSettings
from engage.contacts.models import Contact
from engage.core.clock import Clock
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.ids import new_id
from engage.telephony.events import (
    LegAnswered,
    LegBridged,
    LegHangup,
    LegOutcome,
    LegRinging,
    RecordingStopped,
    RegistrationChanged,
    SwitchConnected,
    SwitchDisconnected,
    SwitchEvent,
)
from engage.telephony.port import Originate, Phones, Switch, SwitchError

from . import repository, service, snapshots
from .modes import pacer_for
from .pacing import AgentActivity, CampaignHistory, LineSnapshot, Pacer
from .repository import AgentRow, Lease
from .snapshots import ABANDON_AFTER_SECONDS, PacingLimits

log = structlog.get_logger("engage.dialer")

# An agent's phone answers at once (auto-answer); this only bounds a phone that does not.
AGENT_RING_SECONDS = 5
# How often a campaign with nothing to dial checks whether its list is exhausted (it then completes itself).
COMPLETION_CHECK_SECONDS = 1.0
# How often a campaign's recent calls (the predictive model's samples) are re-read: one query per campaign every
# few seconds rather than every tick; a model fed a few hundred calls barely moves in 5 s.
RECENT_REFRESH_SECONDS = 5.0
LOST_ON_TAKEOVER = "LOST_ON_TAKEOVER"
ORIGINATE_FAILED = "ORIGINATE_FAILED"
CANCELLED_BEFORE_DIAL = "ORIGINATOR_CANCEL"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """The worker's knobs: `DialerSettings` in production; tests shorten the ring time and ticks."""

    ring_timeout_seconds: int = 30
    tick_seconds: float = 0.25
    heartbeat_seconds: float = 2.0
    lease_stale_seconds: int = 15
    max_lines_per_tick: int = 50
    abandon_after_seconds: float = ABANDON_AFTER_SECONDS
    recordings_dir: Path = Path(".engage/recordings")

    @property
    def pacing_limits(self) -> PacingLimits:
        return PacingLimits(
            ring_timeout_seconds=float(self.ring_timeout_seconds), abandon_after_seconds=self.abandon_after_seconds
        )

    @classmethod
    def from_settings(cls, settings: DialerSettings, data_dir: Path) -> WorkerConfig:
        return cls(
            ring_timeout_seconds=settings.ring_timeout_seconds,
            tick_seconds=settings.tick_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            lease_stale_seconds=settings.lease_stale_seconds,
            max_lines_per_tick=settings.max_lines_per_tick,
            recordings_dir=(data_dir / "recordings").resolve(),
        )


@dataclass(slots=True)
class LiveCall:
    """What the worker keeps of a call it drives; the row is the truth, this is the flow's working memory."""

    call_id: uuid.UUID
    tenant_id: uuid.UUID
    campaign_id: uuid.UUID | None
    phone: str
    # An agent chosen before the dial (manual, preview, callback): the call goes to that agent or no one.
    preassigned_sip_user: str | None = None
    abandon_message: str | None = None
    answered_at: float | None = None  # loop time of a person's answer
    machine: bool = False
    agent_leg: str | None = None
    agent_answered: bool = False
    bridged: bool = False
    abandoned: bool = False
    ended: bool = False
    hangup_sent: bool = False
    started: float = 0.0
    # The event task and the timers both act on a call: one at a time, so a step that awaits (a reservation, an
    # originate) is never interleaved with another step of the same call (two agent legs for one callee).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def leg(self) -> str:
        return str(self.call_id)

    @property
    def waiting_for_agent(self) -> bool:
        return self.answered_at is not None and not self.machine and not self.bridged and not self.abandoned


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


@dataclass
class Worker:
    sessions: async_sessionmaker[AsyncSession]
    switch: Switch
    clock: Clock
    engine: Engine
    config: WorkerConfig = field(default_factory=WorkerConfig)
    phones: Phones | None = None
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}")
    loop_time: Callable[[], float] = field(default_factory=lambda: asyncio.get_running_loop().time)

    def __post_init__(self) -> None:
        self._calls: dict[uuid.UUID, LiveCall] = {}
        self._legs: dict[str, LiveCall] = {}
        self._leases: dict[uuid.UUID, Lease] = {}
        self._memory: dict[uuid.UUID, _CampaignMemory] = {}
        self._registered: set[str] = set()
        # A Switch is handed over started (connected); its events say when that changes.
        self._switch_connected = True
        self._events_task: asyncio.Task[None] | None = None
        self._last_heartbeat = -math.inf
        self.ready = asyncio.Event()

    # -- running -------------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Pace until `stop` is set; then hand the leases back."""
        self._events_task = asyncio.create_task(self._consume_events(), name=f"dialer-events-{self.worker_id}")
        log.info("dialer.started", worker_id=self.worker_id)
        try:
            while not stop.is_set():
                await self._guarded("tick", self.tick())
                self.ready.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.tick_seconds)
        finally:
            await self._guarded("release", self._release())
            self._events_task.cancel()
            await asyncio.gather(self._events_task, return_exceptions=True)
            log.info("dialer.stopped", worker_id=self.worker_id, live_calls=len(self._calls))

    async def tick(self) -> None:
        """One round: heartbeat when due, every held campaign paced once, timers and hang-up requests."""
        now_loop = self.loop_time()
        if now_loop - self._last_heartbeat >= self.config.heartbeat_seconds:
            self._last_heartbeat = now_loop
            await self._heartbeat()
            await self._guarded("orphans", self._adopt_orphans())
        for lease in list(self._leases.values()):
            await self._guarded("campaign", self._pace(lease), campaign_id=str(lease.campaign_id))
        await self._guarded("timers", self._timers())
        await self._guarded("hangups", self._hangup_requests())

    @property
    def campaigns(self) -> frozenset[uuid.UUID]:
        return frozenset(self._leases)

    @property
    def live_calls(self) -> int:
        return len(self._calls)

    async def _guarded(self, what: str, work: Awaitable[None], **context: str) -> None:
        """Run one step; an error is logged and the loop goes on (the next tick retries from the database)."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("dialer.step_failed", step=what, error=f"{type(exc).__name__}: {exc}", **context)

    async def _heartbeat(self) -> None:
        async with unscoped_transaction(self.sessions) as session:
            leases = await repository.heartbeat(
                session,
                self.worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                now=self.clock.now(),
                stale_seconds=self.config.lease_stale_seconds,
                switch_connected=self._switch_connected,
            )
        held = {lease.campaign_id: lease for lease in leases}
        for campaign_id in set(self._leases) - set(held):
            self._memory.pop(campaign_id, None)
            log.info("dialer.lease_released", campaign_id=str(campaign_id))
        for campaign_id, lease in held.items():
            if campaign_id not in self._leases:
                log.info("dialer.lease_taken", campaign_id=str(campaign_id), taken_over_from=lease.taken_over_from)
                await self._guarded("reconcile", self._reconcile(lease), campaign_id=str(campaign_id))
        self._leases = held

    async def _release(self) -> None:
        async with unscoped_transaction(self.sessions) as session:
            released = await repository.release(session, self.worker_id)
        self._leases.clear()
        log.info("dialer.leases_released", worker_id=self.worker_id, released=released)

    # -- pacing --------------------------------------------------------------------------------------------------

    async def _pace(self, lease: Lease) -> None:
        now = self.clock.now()
        to_place: list[tuple[Call, str | None, str | None]] = []
        phone_changes: list[tuple[str, bool]] = []
        cancelled: list[Call] = []
        async with tenant_transaction(self.sessions, lease.tenant_id) as session:
            campaign = await repository.get_campaign(session, lease.campaign_id)
            if campaign is None:
                return
            agents = await repository.campaign_agents(session, campaign.id)
            phone_changes = self._phone_changes(agents)
            await service.end_wrap_ups(session, campaign.tenant_id, [a.agent_id for a in agents], now)
            for call in await repository.unplaced_calls(session, campaign.id, self.worker_id):
                call.worker_id = self.worker_id
                if call.hangup_requested_at is not None:
                    cancelled.append(call)
                    continue
                sip_user = self._sip_user(agents, call.agent_id)
                if sip_user is None and call.agent_id is not None:
                    # An originate for an agent not assigned to the campaign still goes to that agent.
                    row = await repository.agent(session, call.agent_id)
                    sip_user = row.sip_user if row is not None else None
                to_place.append((call, sip_user, campaign.abandon_message))
            if campaign.status == "active":
                calls = await self._open_attempts(session, campaign, agents, now)
                to_place += [(call, self._sip_user(agents, call.agent_id), campaign.abandon_message) for call in calls]
                if not calls:
                    await self._maybe_complete(session, campaign)
        for phone_user, register in phone_changes:
            await self._guarded("phones", self._set_phone(phone_user, register))
        for call in cancelled:
            await self._cancel(call)
        for call, agent_sip_user, message in to_place:
            await self._place(call, agent_sip_user, message)

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
            for live in self._calls.values()
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
        if any(live.campaign_id == campaign.id for live in self._calls.values()):
            return
        if await repository.has_work_left(session, campaign):
            return
        await campaigns_service.complete_campaign(session, campaign.id, clock=self.clock)
        log.info("dialer.campaign_completed", campaign_id=str(campaign.id))

    def _phone_changes(self, agents: list[AgentRow]) -> list[tuple[str, bool]]:
        """Sim mode (DESIGN.md §2): an agent's phone is registered while the agent is not offline."""
        if self.phones is None:
            return []
        changes = []
        for agent in agents:
            if agent.sip_user is None:
                continue
            wanted = agent.state != "offline"
            if wanted != (agent.sip_user in self._registered):
                changes.append((agent.sip_user, wanted))
        return changes

    async def _set_phone(self, sip_user: str, register: bool) -> None:
        assert self.phones is not None
        if register:
            await self.phones.register(sip_user)
        else:
            await self.phones.unregister(sip_user)

    @staticmethod
    def _sip_user(agents: list[AgentRow], agent_id: uuid.UUID | None) -> str | None:
        return next((a.sip_user for a in agents if a.agent_id == agent_id), None) if agent_id else None

    # -- placing calls -------------------------------------------------------------------------------------------

    def _live(self, call: Call, sip_user: str | None, abandon_message: str | None) -> LiveCall:
        """The flow's memory of a call row: a paced call's agent is chosen on answer, any other's beforehand."""
        return LiveCall(
            call_id=call.id,
            tenant_id=call.tenant_id,
            campaign_id=call.campaign_id,
            phone=call.contact_phone,
            preassigned_sip_user=sip_user if call.origin != CallOrigin.dialer.value else None,
            abandon_message=abandon_message,
            started=self.loop_time(),
            bridged=call.bridged_at is not None,
        )

    async def _place(self, call: Call, sip_user: str | None, abandon_message: str | None) -> None:
        live = self._live(call, sip_user, abandon_message)
        self._track(live)
        request = Originate(
            leg_id=live.leg,
            destination=call.contact_phone,
            caller_id=call.cli or "0000000000",
            timeout_seconds=self.config.ring_timeout_seconds,
            variables={"engage_call_id": live.leg},
        )
        try:
            await self.switch.originate(request)
        except SwitchError as exc:
            log.warning("dialer.originate_failed", call_id=live.leg, error=str(exc))
            # Never left ringing: whatever the switch did with the request, the leg is killed.
            with contextlib.suppress(SwitchError):
                await self.switch.hangup(live.leg, "NORMAL_CLEARING")
            await self._end(live, LegOutcome.failed, ORIGINATE_FAILED)
            return
        async with tenant_transaction(self.sessions, live.tenant_id) as session:
            await service.mark_placed(session, live.call_id, self.worker_id, self.clock.now())

    async def _cancel(self, call: Call) -> None:
        """Hung up (by the API) before any worker placed it: never dialled, ended at once."""
        live = LiveCall(
            call_id=call.id, tenant_id=call.tenant_id, campaign_id=call.campaign_id, phone=call.contact_phone
        )
        await self._end(live, LegOutcome.failed, CANCELLED_BEFORE_DIAL)

    def _track(self, live: LiveCall) -> None:
        self._calls[live.call_id] = live
        self._legs[live.leg] = live

    def _forget(self, live: LiveCall) -> None:
        self._calls.pop(live.call_id, None)
        self._legs.pop(live.leg, None)
        if live.agent_leg is not None:
            self._legs.pop(live.agent_leg, None)

    # -- switch events -------------------------------------------------------------------------------------------

    async def _consume_events(self) -> None:
        async for event in self.switch.events():
            await self._guarded("event", self.handle(event), kind=type(event).__name__)

    async def handle(self, event: SwitchEvent) -> None:
        """One switch event, applied in order (events of one leg arrive in the switch's order)."""
        if isinstance(event, RegistrationChanged):
            await self._registration(event)
            return
        if isinstance(event, SwitchConnected | SwitchDisconnected):
            connected = isinstance(event, SwitchConnected)
            log.info("dialer.switch", connected=connected)
            if connected != self._switch_connected:
                self._switch_connected = connected
                # Heartbeat at the next tick: the change reaches `dialer_workers` (and diagnostics) at once.
                self._last_heartbeat = -math.inf
            return
        live = self._legs.get(event.leg_id)
        if live is None:
            return
        async with live.lock:
            await self._apply(live, event)

    async def _apply(self, live: LiveCall, event: SwitchEvent) -> None:
        is_customer = getattr(event, "leg_id", None) == live.leg
        if isinstance(event, LegRinging) and is_customer:
            async with tenant_transaction(self.sessions, live.tenant_id) as session:
                await service.mark_ringing(session, live.call_id)
        elif isinstance(event, LegAnswered):
            await (self._customer_answered(live, event) if is_customer else self._agent_answered(live))
        elif isinstance(event, LegBridged) and is_customer:
            await self._bridged(live)
        elif isinstance(event, LegHangup):
            await (self._end(live, event.outcome, event.cause) if is_customer else self._agent_gone(live))
        elif isinstance(event, RecordingStopped) and is_customer:
            async with tenant_transaction(self.sessions, live.tenant_id) as session:
                await service.set_recording(session, live.call_id, event.path)

    async def _registration(self, event: RegistrationChanged) -> None:
        if event.registered:
            self._registered.add(event.sip_user)
        else:
            self._registered.discard(event.sip_user)
        async with unscoped_transaction(self.sessions) as session:
            await repository.record_registration(
                session, event.sip_user, registered=event.registered, at=self.clock.now()
            )

    async def _customer_answered(self, live: LiveCall, event: LegAnswered) -> None:
        live.answered_at = self.loop_time()
        live.machine = event.machine
        async with tenant_transaction(self.sessions, live.tenant_id) as session:
            await service.mark_answered(session, live.call_id, machine=event.machine, now=self.clock.now())
        if event.machine:
            # Answering machine: no agent is spent on it; the leg's end records the call as voicemail.
            await self._hangup(live, live.leg)
            return
        await self._offer_to_agent(live)

    async def _offer_to_agent(self, live: LiveCall) -> None:
        """Start the agent leg: the agent chosen before the dial, else the campaign's longest-idle one."""
        if live.agent_leg is not None or not live.waiting_for_agent or live.ended:
            return
        sip_user: str | None = live.preassigned_sip_user
        if sip_user is None:
            async with tenant_transaction(self.sessions, live.tenant_id) as session:
                row = await service.reserve_agent(session, live.call_id, sorted(self._registered), now=self.clock.now())
            if row is None or row.sip_user is None:
                return  # nobody yet: the timers retry until the abandon deadline
            sip_user = row.sip_user
        agent_leg = str(new_id())
        live.agent_leg = agent_leg
        self._legs[agent_leg] = live
        async with tenant_transaction(self.sessions, live.tenant_id) as session:
            await service.set_agent_leg(session, live.call_id, agent_leg)
        try:
            await self.switch.originate(
                Originate(
                    leg_id=agent_leg,
                    destination=f"user/{sip_user}",
                    caller_id=live.phone,
                    timeout_seconds=AGENT_RING_SECONDS,
                    to_agent=True,
                    variables={"engage_call_id": live.leg},
                )
            )
        except SwitchError as exc:
            log.warning("dialer.agent_leg_failed", call_id=live.leg, error=str(exc))
            with contextlib.suppress(SwitchError):
                await self.switch.hangup(agent_leg, "NORMAL_CLEARING")
            await self._agent_gone(live)

    async def _agent_answered(self, live: LiveCall) -> None:
        live.agent_answered = True
        if live.ended or live.abandoned or live.agent_leg is None:
            await self._hangup(live, live.agent_leg)
            return
        try:
            await self.switch.bridge(live.leg, live.agent_leg)
        except SwitchError as exc:
            log.warning("dialer.bridge_failed", call_id=live.leg, error=str(exc))
            await self._hangup(live, live.agent_leg)

    async def _bridged(self, live: LiveCall) -> None:
        if live.bridged:
            return
        live.bridged = True
        path = self.config.recordings_dir / str(live.tenant_id) / f"{live.leg}.wav"
        async with tenant_transaction(self.sessions, live.tenant_id) as session:
            await service.mark_bridged(session, live.call_id, now=self.clock.now(), recording_path=str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            await self.switch.start_recording(live.leg, str(path))
        except (SwitchError, OSError) as exc:
            # A call without its recording is still a call: it goes on, and the failure is logged.
            log.warning("dialer.recording_failed", call_id=live.leg, error=str(exc))

    async def _agent_gone(self, live: LiveCall) -> None:
        """The agent leg ended (or never started). Bridged: the call is over, so the callee is hung up too (a
        parked leg would otherwise stay up). Not bridged: the agent is released; another may still be found."""
        agent_leg, live.agent_leg = live.agent_leg, None
        if agent_leg is not None:
            self._legs.pop(agent_leg, None)
        if live.ended:
            return
        if live.bridged:
            await self._hangup(live, live.leg)
            return
        live.agent_answered = False
        async with tenant_transaction(self.sessions, live.tenant_id) as session:
            await service.release_agent(session, live.call_id, now=self.clock.now())

    async def _end(self, live: LiveCall, outcome: LegOutcome, cause: str) -> None:
        if live.ended:
            return
        live.ended = True
        if live.agent_leg is not None:
            await self._hangup(live, live.agent_leg)
        self._forget(live)
        async with tenant_transaction(self.sessions, live.tenant_id) as session:
            await service.end_call(session, live.call_id, outcome=outcome, cause=cause, now=self.clock.now())

    async def _hangup(self, live: LiveCall, leg: str | None, cause: str = "NORMAL_CLEARING") -> None:
        if leg is None:
            return
        try:
            await self.switch.hangup(leg, cause)
        except SwitchError as exc:
            log.info("dialer.hangup_failed", call_id=live.leg, leg=leg, error=str(exc))

    # -- timers and requests from the API ------------------------------------------------------------------------

    async def _timers(self) -> None:
        now_loop = self.loop_time()
        for live in list(self._calls.values()):
            if not live.waiting_for_agent or live.ended or live.answered_at is None:
                continue
            async with live.lock:
                if not live.waiting_for_agent or live.ended:
                    continue
                if now_loop - live.answered_at >= self.config.abandon_after_seconds:
                    await self._abandon(live)
                elif live.agent_leg is None:
                    await self._offer_to_agent(live)

    async def _abandon(self, live: LiveCall) -> None:
        live.abandoned = True
        async with tenant_transaction(self.sessions, live.tenant_id) as session:
            await service.mark_abandoned(session, live.call_id, now=self.clock.now())
        log.info("dialer.call_abandoned", call_id=live.leg, campaign_id=str(live.campaign_id))
        if live.agent_leg is not None:
            await self._hangup(live, live.agent_leg)
        if live.abandon_message:
            try:
                await self.switch.play_and_hangup(live.leg, live.abandon_message)
                return
            except SwitchError as exc:
                log.warning("dialer.abandon_message_failed", call_id=live.leg, error=str(exc))
        await self._hangup(live, live.leg)

    async def _hangup_requests(self) -> None:
        pending = [live for live in self._calls.values() if not live.hangup_sent and not live.ended]
        by_tenant: dict[uuid.UUID, list[LiveCall]] = {}
        for live in pending:
            by_tenant.setdefault(live.tenant_id, []).append(live)
        for tenant_id, lives in by_tenant.items():
            async with tenant_transaction(self.sessions, tenant_id) as session:
                requested = set(await repository.hangup_requests(session, [live.call_id for live in lives]))
            for live in lives:
                if live.call_id in requested:
                    live.hangup_sent = True
                    await self._hangup(live, live.leg)

    # -- taking over ---------------------------------------------------------------------------------------------

    async def _reconcile(self, lease: Lease) -> None:
        """A campaign this worker has just taken: its live calls that another worker drove are adopted if the
        switch still has them, ended if not."""
        async with tenant_transaction(self.sessions, lease.tenant_id) as session:
            calls = [
                call
                for call in await repository.live_calls(session, lease.campaign_id)
                if call.id not in self._calls and not (call.placed_at is None and call.worker_id is None)
            ]
            campaign = await repository.get_campaign(session, lease.campaign_id)
            agents = await repository.campaign_agents(session, lease.campaign_id)
        message = campaign.abandon_message if campaign is not None else None
        for call in calls:
            await self._take_over(call, self._sip_user(agents, call.agent_id), message)
        if calls:
            log.info("dialer.reconciled", campaign_id=str(lease.campaign_id), calls=len(calls))

    async def _adopt_orphans(self) -> None:
        """Calls without a campaign (manual originations): waiting to be placed, or left by a worker that died."""
        async with unscoped_transaction(self.sessions) as session:
            orphans = await repository.orphan_calls(
                session, self.worker_id, now=self.clock.now(), stale_seconds=self.config.lease_stale_seconds
            )
        for orphan in orphans:
            async with tenant_transaction(self.sessions, orphan.tenant_id) as session:
                call = await repository.get_call(session, orphan.call_id)
                agent = await repository.agent(session, call.agent_id) if call and call.agent_id else None
            if call is None:
                continue
            sip_user = agent.sip_user if agent is not None else None
            if call.placed_at is None and orphan.previous_worker is None:
                if call.hangup_requested_at is not None:
                    await self._cancel(call)
                else:
                    await self._place(call, sip_user, None)
            else:
                await self._take_over(call, sip_user, None)

    async def _take_over(self, call: Call, sip_user: str | None, message: str | None) -> None:
        live = self._live(call, sip_user, message)
        answered = call.answered_at is not None
        self._track(live)
        if not await self.switch.adopt(live.leg, answered=answered):
            if call.agent_leg_id is not None and await self.switch.adopt(call.agent_leg_id, answered=True):
                await self.switch.hangup(call.agent_leg_id, "NORMAL_CLEARING")
            outcome = LegOutcome.completed if answered else LegOutcome.failed
            await self._end(live, outcome, LOST_ON_TAKEOVER)
            return
        async with tenant_transaction(self.sessions, live.tenant_id) as session:
            await service.mark_placed(session, live.call_id, self.worker_id, self.clock.now())
            row = await repository.get_call(session, live.call_id)
            if row is not None:
                row.worker_id = self.worker_id
        if call.agent_leg_id is not None and await self.switch.adopt(call.agent_leg_id, answered=live.bridged):
            live.agent_leg = call.agent_leg_id
            live.agent_answered = live.bridged
            self._legs[call.agent_leg_id] = live
        if live.bridged:
            return
        # Ringing, or answered and waiting, while nobody drove it: the callee is let go rather than kept waiting
        # on a flow whose beginning this worker did not see (an answered callee counts as abandoned).
        if answered and call.status != CallStatus.voicemail.value:
            live.answered_at = self.loop_time()
            await self._abandon(live)
            return
        await self._hangup(live, live.leg, "ORIGINATOR_CANCEL")
