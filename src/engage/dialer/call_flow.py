"""The dialer worker's calls in flight: placing a call, following it through the switch's events (ringing,
answer, offer to an agent, bridge, recording, hang-up) to its end, the abandon deadline and hang-up requests
from the API, and taking over one call another worker drove.

Invariants:
- A call row exists (committed) before its leg is originated, so every event of the leg finds its row; a leg
  whose originate was not confirmed is killed and its call ended `failed`.
- A call's steps run one at a time under its lock (the event task and the timers both act on it).
- A call is tracked (`calls`, and its legs) from its placing or adoption until its end.
- A step of a call is never lost to a database out of reach (stopped, restarting): its transaction is run again
  until it commits, and the events behind it wait. A lost hang-up would leave its call live forever, a lost bridge
  would have a reached contact dialled again. Each step's transaction is all or nothing, and the service functions
  leave a call already in that state alone, so running one again is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Set
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.calls.models import Call, CallOrigin, CallStatus
from engage.core.clock import Clock
from engage.core.db import database_unavailable, tenant_transaction
from engage.core.ids import new_id
from engage.recordings import service as recordings_service
from engage.telephony.events import (
    LegAnswered,
    LegBridged,
    LegHangup,
    LegOutcome,
    LegRinging,
    RecordingStopped,
)
from engage.telephony.port import Originate, Switch, SwitchError

from . import repository, service
from .worker_config import WorkerConfig

log = structlog.get_logger("engage.dialer")

CALLS_PLACED = Counter("engage_dialer_calls_placed_total", "Customer legs the switch accepted to originate.")
CALLS_ENDED = Counter("engage_dialer_calls_ended_total", "Calls this process ended, by outcome.", ["outcome"])

# An agent's phone answers at once (auto-answer); this only bounds a phone that does not.
AGENT_RING_SECONDS = 5
LOST_ON_TAKEOVER = "LOST_ON_TAKEOVER"
ORIGINATE_FAILED = "ORIGINATE_FAILED"
CANCELLED_BEFORE_DIAL = "ORIGINATOR_CANCEL"
# How long after a recorded call's hang-up its file is uploaded when the switch's RECORD_STOP never came.
RECORDING_STOP_GRACE_SECONDS = 30

# Back-off between attempts at a call's step while the database is out of reach: soon after a blip, at most every
# few seconds through a restart (a fast restart of PostgreSQL takes a few seconds).
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 3.0

# The switch events that belong to a leg (the others are about the switch or a phone's registration).
LegEvent = LegRinging | LegAnswered | LegBridged | LegHangup | RecordingStopped


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


class CallFlow:
    """The calls one worker drives. `registered` is the worker's live view of the SIP users the switch has."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        switch: Switch,
        clock: Clock,
        config: WorkerConfig,
        worker_id: str,
        loop_time: Callable[[], float],
        registered: Set[str],
        recording_due: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.switch = switch
        self.clock = clock
        self.config = config
        self.worker_id = worker_id
        self.loop_time = loop_time
        self._registered = registered
        self._recording_due = recording_due
        self._calls: dict[uuid.UUID, LiveCall] = {}
        self._legs: dict[str, LiveCall] = {}

    @property
    def calls(self) -> Mapping[uuid.UUID, LiveCall]:
        return self._calls

    async def _write(self, live: LiveCall, step: str, work: Callable[[AsyncSession], Awaitable[object]]) -> None:
        """`work` in one transaction of the call's tenant, run again until it commits while the database is out of
        reach (see the module's invariants); any other error is raised at once."""
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                async with tenant_transaction(self.sessions, live.tenant_id) as session:
                    await work(session)
                return
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                log.warning("dialer.step_deferred", call_id=live.leg, step=step, retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

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

    async def place(self, call: Call, sip_user: str | None, abandon_message: str | None) -> None:
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
        CALLS_PLACED.inc()
        now = self.clock.now()
        await self._write(
            live, "placed", lambda session: service.mark_placed(session, live.call_id, self.worker_id, now)
        )

    async def cancel(self, call: Call) -> None:
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

    async def handle(self, event: LegEvent) -> None:
        """One event of a leg, applied in order (events of one leg arrive in the switch's order)."""
        live = self._legs.get(event.leg_id)
        if live is None:
            return
        async with live.lock:
            await self._apply(live, event)

    async def _apply(self, live: LiveCall, event: LegEvent) -> None:
        is_customer = event.leg_id == live.leg
        if isinstance(event, LegRinging) and is_customer:
            await self._write(live, "ringing", lambda session: service.mark_ringing(session, live.call_id))
        elif isinstance(event, LegAnswered):
            await (self._customer_answered(live, event) if is_customer else self._agent_answered(live))
        elif isinstance(event, LegBridged) and is_customer:
            await self._bridged(live)
        elif isinstance(event, LegHangup):
            await (self._end(live, event.outcome, event.cause) if is_customer else self._agent_gone(live))
        elif isinstance(event, RecordingStopped) and is_customer:
            now = self.clock.now()
            stopped: list[bool] = []

            async def stop(session: AsyncSession) -> None:
                stopped.append(
                    await recordings_service.recording_stopped(session, live.call_id, path=event.path, now=now)
                )

            await self._write(live, "recording_stopped", stop)
            if stopped[-1] and self._recording_due is not None:
                self._recording_due()

    async def _customer_answered(self, live: LiveCall, event: LegAnswered) -> None:
        live.answered_at = self.loop_time()
        live.machine = event.machine
        now = self.clock.now()
        await self._write(
            live,
            "answered",
            lambda session: service.mark_answered(session, live.call_id, machine=event.machine, now=now),
        )
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
        await self._write(live, "agent_leg", lambda session: service.set_agent_leg(session, live.call_id, agent_leg))
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
        # Abandoned while the bridge was in flight: the call stays abandoned, unrecorded (`service.mark_bridged`).
        if live.bridged or live.abandoned:
            return
        live.bridged = True
        path = self.config.recordings_dir / str(live.tenant_id) / f"{live.leg}.wav"
        now = self.clock.now()
        await self._write(
            live,
            "bridged",
            lambda session: service.mark_bridged(session, live.call_id, now=now, recording_path=str(path)),
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            await self.switch.start_recording(live.leg, str(path))
        except (SwitchError, OSError) as exc:
            # A call without its recording is still a call: it goes on, and the failure is logged and counted (a
            # full disk must raise an alert, not only a log line).
            reason = "switch_error" if isinstance(exc, SwitchError) else recordings_service.failure_reason(exc)
            recordings_service.FAILURES.labels(reason).inc()
            log.warning("dialer.recording_failed", call_id=live.leg, reason=reason, error=str(exc))
            return
        # The recording exists from its start, so the call (and its call.completed event) names it; the uploader
        # takes it once the switch has finished the file.
        started = self.clock.now()
        await self._write(
            live,
            "recording_started",
            lambda session: recordings_service.recording_started(session, live.call_id, path=str(path), now=started),
        )

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
        now = self.clock.now()
        await self._write(live, "release_agent", lambda session: service.release_agent(session, live.call_id, now=now))

    async def _end(self, live: LiveCall, outcome: LegOutcome, cause: str) -> None:
        if live.ended:
            return
        live.ended = True
        CALLS_ENDED.labels(str(outcome)).inc()
        if live.agent_leg is not None:
            await self._hangup(live, live.agent_leg)
        self._forget(live)
        now = self.clock.now()

        async def end(session: AsyncSession) -> None:
            await service.end_call(session, live.call_id, outcome=outcome, cause=cause, now=now)
            if live.bridged:
                # The switch closes a recording when its channel hangs up; should its stop event be lost, the file
                # is uploaded after this grace all the same.
                await recordings_service.call_ended(
                    session, live.call_id, due_at=now + timedelta(seconds=RECORDING_STOP_GRACE_SECONDS)
                )

        await self._write(live, "end", end)

    async def _hangup(self, live: LiveCall, leg: str | None, cause: str = "NORMAL_CLEARING") -> None:
        if leg is None:
            return
        try:
            await self.switch.hangup(leg, cause)
        except SwitchError as exc:
            log.info("dialer.hangup_failed", call_id=live.leg, leg=leg, error=str(exc))

    # -- timers and requests from the API ------------------------------------------------------------------------

    async def timers(self) -> None:
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
        now = self.clock.now()
        await self._write(live, "abandoned", lambda session: service.mark_abandoned(session, live.call_id, now=now))
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

    async def hangup_requests(self) -> None:
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

    async def take_over(self, call: Call, sip_user: str | None, message: str | None) -> None:
        """A live call another worker drove: adopted if the switch still has its leg, ended if not. A callee
        still ringing or waiting for an agent is let go."""
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
