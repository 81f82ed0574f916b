"""The dialer worker: leases campaigns, paces each one it holds, places calls through the `Switch` port and
follows them through the switch's events to their end. `engage serve` runs one in-process; `engage worker`
runs it alone, any number of them.

This module owns the worker's loop (ticks, the switch's event task), its leases (heartbeat, release, taking a
campaign over) and the switch-wide events (connection, registrations). A held campaign's tick is
`held_campaigns`; the calls in flight are `call_flow`; the knobs are `worker_config`.

Invariants:
- A campaign is paced by the one worker holding its lease (renewed by a heartbeat); a worker that goes silent
  for `lease_stale_seconds` loses it, and the next holder first reconciles the campaign's live calls with the
  switch: a leg the switch still has is adopted (its events now come here), one it does not is ended, and a
  callee still ringing or waiting for an agent is let go. No call stays live and no contact `dialing` forever.
- A call row exists (committed) before its leg is originated, so every event of the leg finds its row; a leg
  whose originate was not confirmed is killed and its call ended `failed`.
- A call's switch events are applied one at a time in the switch's order; different calls' side by side.
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

import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.compliance.engine import Engine
from engage.core.clock import Clock
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.telephony.events import RegistrationChanged, SwitchConnected, SwitchDisconnected, SwitchEvent
from engage.telephony.port import Phones, Switch

from . import repository
from .call_flow import CallFlow
from .held_campaigns import HeldCampaigns, sip_user_of
from .repository import Lease
from .step_failures import StepFailures
from .worker_config import WorkerConfig

__all__ = ["Worker", "WorkerConfig"]

log = structlog.get_logger("engage.dialer")

# On stop, how long the leg events already received may take to be applied.
EVENTS_DRAIN_SECONDS = 5.0

LEASES_HELD = Gauge("engage_dialer_leases_held", "Campaigns this process paces (its campaign leases).")
SWITCH_CONNECTED = Gauge("engage_dialer_switch_connected", "1 while this worker's switch connection is up, else 0.")
STEP_FAILURES = Counter(
    "engage_dialer_step_failures_total", "Dialer steps that raised and were retried at the next tick.", ["step"]
)


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
    # Called when a recording becomes due for upload (the recording uploader's `wake`).
    recording_due: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self._leases: dict[uuid.UUID, Lease] = {}
        self._registered: set[str] = set()
        # A Switch is handed over started (connected); its events say when that changes.
        self._switch_connected = True
        self._events_task: asyncio.Task[None] | None = None
        # A leg event being applied, each its own task (`_consume_events`); kept here until it is done.
        self._applying: set[asyncio.Task[None]] = set()
        self._last_heartbeat = -math.inf
        self._failures = StepFailures(self.loop_time)
        self.ready = asyncio.Event()
        self._flow = CallFlow(
            sessions=self.sessions,
            switch=self.switch,
            clock=self.clock,
            config=self.config,
            worker_id=self.worker_id,
            loop_time=self.loop_time,
            registered=self._registered,
            recording_due=self.recording_due,
        )
        self._held = HeldCampaigns(
            sessions=self.sessions,
            clock=self.clock,
            engine=self.engine,
            config=self.config,
            worker_id=self.worker_id,
            loop_time=self.loop_time,
            registered=self._registered,
            flow=self._flow,
            follow_phones=self.phones is not None,
        )

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
            # The leg events already taken from the switch are applied, not dropped: each is a call's state.
            if self._applying:
                await asyncio.wait(set(self._applying), timeout=EVENTS_DRAIN_SECONDS)
            log.info("dialer.stopped", worker_id=self.worker_id, live_calls=len(self._flow.calls))

    async def tick(self) -> None:
        """One round: heartbeat when due, every held campaign paced once, timers and hang-up requests."""
        now_loop = self.loop_time()
        if now_loop - self._last_heartbeat >= self.config.heartbeat_seconds:
            self._last_heartbeat = now_loop
            await self._heartbeat()
            await self._guarded("orphans", self._adopt_orphans())
        for lease in list(self._leases.values()):
            await self._guarded("campaign", self._pace(lease), campaign_id=str(lease.campaign_id))
        await self._guarded("timers", self._flow.timers())
        await self._guarded("hangups", self._flow.hangup_requests())

    @property
    def campaigns(self) -> frozenset[uuid.UUID]:
        return frozenset(self._leases)

    @property
    def live_calls(self) -> int:
        return len(self._flow.calls)

    async def _guarded(self, what: str, work: Awaitable[None], **context: str) -> None:
        """Run one step; an error is logged and the loop goes on (the next tick retries from the database)."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - retried at the next tick; logged (with its traceback) by StepFailures
            STEP_FAILURES.labels(what).inc()
            self._failures.failed(what, exc, context)
        else:
            self._failures.succeeded(what, context)

    # -- leases --------------------------------------------------------------------------------------------------

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
            self._held.forget(campaign_id)
            log.info("dialer.lease_released", campaign_id=str(campaign_id))
        for campaign_id, lease in held.items():
            if campaign_id not in self._leases:
                log.info("dialer.lease_taken", campaign_id=str(campaign_id), taken_over_from=lease.taken_over_from)
                await self._guarded("reconcile", self._reconcile(lease), campaign_id=str(campaign_id))
        self._leases = held
        LEASES_HELD.set(len(held))

    async def _release(self) -> None:
        async with unscoped_transaction(self.sessions) as session:
            released = await repository.release(session, self.worker_id)
        self._leases.clear()
        LEASES_HELD.set(0)
        log.info("dialer.leases_released", worker_id=self.worker_id, released=released)

    async def _pace(self, lease: Lease) -> None:
        work = await self._held.tick(lease)
        phones = self.phones
        if phones is not None:
            for sip_user, register in work.phone_changes:
                await self._guarded("phones", _set_phone(phones, sip_user, register))
        for call in work.cancelled:
            await self._flow.cancel(call)
        for call, agent_sip_user, message in work.to_place:
            await self._flow.place(call, agent_sip_user, message)

    # -- switch events -------------------------------------------------------------------------------------------

    async def _consume_events(self) -> None:
        """The switch's events, in arrival order. A call's events are applied one at a time in that order (each takes
        the call's lock, which queues in arrival order, as the tasks start in creation order), but different calls
        no longer wait for each other: applied one after the other, each with its transaction, the events of a
        100-agent floor fell seconds behind, so an agent's answer was seen after the silent-call limit and the
        callee abandoned (`engage bench soak`). Registrations and the switch's connection stay in line."""
        async for event in self.switch.events():
            kind = type(event).__name__
            if isinstance(event, RegistrationChanged | SwitchConnected | SwitchDisconnected):
                await self._guarded("event", self.handle(event), kind=kind)
                continue
            task = asyncio.create_task(self._guarded("event", self._flow.handle(event), kind=kind))
            self._applying.add(task)
            task.add_done_callback(self._applying.discard)

    async def handle(self, event: SwitchEvent) -> None:
        """One switch event, applied in order (events of one leg arrive in the switch's order)."""
        if isinstance(event, RegistrationChanged):
            await self._registration(event)
            return
        if isinstance(event, SwitchConnected | SwitchDisconnected):
            connected = isinstance(event, SwitchConnected)
            log.info("dialer.switch", connected=connected)
            SWITCH_CONNECTED.set(int(connected))
            if connected != self._switch_connected:
                self._switch_connected = connected
                # Heartbeat at the next tick: the change reaches `dialer_workers` (and diagnostics) at once.
                self._last_heartbeat = -math.inf
            return
        await self._flow.handle(event)

    async def _registration(self, event: RegistrationChanged) -> None:
        if event.registered:
            self._registered.add(event.sip_user)
        else:
            self._registered.discard(event.sip_user)
        async with unscoped_transaction(self.sessions) as session:
            await repository.record_registration(
                session, event.sip_user, registered=event.registered, at=self.clock.now()
            )

    # -- taking over ---------------------------------------------------------------------------------------------

    async def _reconcile(self, lease: Lease) -> None:
        """A campaign this worker has just taken: its live calls that another worker drove are adopted if the
        switch still has them, ended if not."""
        async with tenant_transaction(self.sessions, lease.tenant_id) as session:
            calls = [
                call
                for call in await repository.live_calls(session, lease.campaign_id)
                if call.id not in self._flow.calls and not (call.placed_at is None and call.worker_id is None)
            ]
            campaign = await repository.get_campaign(session, lease.campaign_id)
            agents = await repository.campaign_agents(session, lease.campaign_id)
        message = campaign.abandon_message if campaign is not None else None
        for call in calls:
            await self._flow.take_over(call, sip_user_of(agents, call.agent_id), message)
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
                    await self._flow.cancel(call)
                else:
                    await self._flow.place(call, sip_user, None)
            else:
                await self._flow.take_over(call, sip_user, None)


async def _set_phone(phones: Phones, sip_user: str, register: bool) -> None:
    if register:
        await phones.register(sip_user)
    else:
        await phones.unregister(sip_user)
