"""`engage bench dialer`: the dialer end to end in real time — 50 agents, a 5,000-contact progressive campaign,
callees that ring 1-3 s and talk 5-20 s on `engage sim` in its own process, two workers (each its own ESL
connection; one holds the campaign's lease, the other stands by) — then the invariants.

Figures: calls started per second, agents' talk occupancy, the lag from a switch event (its own
`Event-Date-Timestamp`) to the call row the API reads (p50/p99, bridge and hangup), and the invariants: no
contact over `max_attempts`, no DNC number dialled, nothing left live, one audit row per attempt.

It writes to the database it is given (the compliance audit log refuses deletes): run it on a scratch one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from random import Random

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.agents import service as agents
from engage.agents.schemas import AgentStateChange, SettableStatus
from engage.bench.common import percentile
from engage.bench.switch import start_simulator, stop_simulator
from engage.calls.models import LIVE_STATUSES, Call
from engage.campaigns import service as campaigns
from engage.campaigns.schemas import CampaignAgentsAssign, CampaignCreate, DialingMode
from engage.cli_groups import service as cli_groups
from engage.cli_groups.schemas import CliGroupCreate
from engage.compliance.engine import Engine
from engage.compliance.models import AuditEntry
from engage.config import Settings
from engage.contacts import service as contacts
from engage.contacts.models import Contact
from engage.contacts.schemas import ContactIn, ContactUpload
from engage.core.clock import ShiftedClock
from engage.core.db import create_engine, session_factory, tenant_transaction, unscoped_transaction
from engage.core.outbox import OutboxEvent
from engage.core.principal import Principal, Role
from engage.demo import demo_clock_start
from engage.dialer.worker import Worker, WorkerConfig
from engage.dnc import service as dnc
from engage.dnc.schemas import DncSource
from engage.main import database_url
from engage.migrate import migrate
from engage.registry import service as registry
from engage.telephony.esl.client import EslClient
from engage.telephony.esl.codec import Event
from engage.telephony.esl.switch import EslSwitch
from engage.telephony.sim.phones import SimPhones
from engage.tenancy import service as tenancy
from engage.users import service as users
from engage.users.schemas import UserCreate

AGENTS = 50
CONTACTS = 5000
DNC_LISTED = 25  # on the tenant list after upload, and as many on the national registry
MIN_SECONDS = 60.0
DRAIN_SECONDS = 60.0


def _numbers(count: int) -> list[str]:
    rng = Random(50_5000)  # noqa: S311 - benchmark data
    return [f"+97150{serial:07d}" for serial in rng.sample(range(10_000_000), count)]


async def _seed(
    sessions_: async_sessionmaker[AsyncSession], url: str, clock: ShiftedClock, numbers: Sequence[str]
) -> tuple[uuid.UUID, uuid.UUID]:
    async with unscoped_transaction(sessions_) as session:
        tenant = await tenancy.create(
            session,
            name=f"Bench dialer {secrets.token_hex(3)}",
            timezone="Asia/Dubai",
            country="AE",
            rate_limit_per_minute=1_000_000,
            clock=clock,
        )
        admin = await users.create_user(
            session,
            tenant.id,
            UserCreate(
                email=f"admin-{secrets.token_hex(4)}@bench.test",
                password=secrets.token_urlsafe(16),
                full_name="Bench Admin",
                role=Role.admin,
            ),
            clock=clock,
        )
    principal = Principal(user_id=admin.id, tenant_id=tenant.id, role=Role.admin)
    async with tenant_transaction(sessions_, tenant.id) as session:
        group = await cli_groups.create_group(
            session, tenant.id, CliGroupCreate(name="Bench", numbers=["+97142000000", "+97142000001"]), clock=clock
        )
        view = await campaigns.create_campaign(
            session,
            tenant.id,
            CampaignCreate(
                name="Bench",
                dialing_mode=DialingMode.progressive,
                cli_group_id=group.id,
                wrap_up_seconds=2,
                max_attempts=2,
            ),
            clock=clock,
        )
        campaign_id = view.campaign.id
        await contacts.upload(
            session,
            tenant.id,
            campaign_id,
            ContactUpload(contacts=[ContactIn(phone=n, first_name=f"Contact {i}") for i, n in enumerate(numbers)]),
            clock=clock,
        )
        await dnc.add_numbers(
            session,
            tenant.id,
            list(numbers[:DNC_LISTED]),
            source=DncSource.manual,
            reason="bench",
            added_by=None,
            clock=clock,
        )
        agent_ids = []
        for index in range(AGENTS):
            agent = await users.create_user(
                session,
                tenant.id,
                UserCreate(
                    email=f"agent{index}-{secrets.token_hex(3)}@bench.test",
                    password=secrets.token_urlsafe(16),
                    full_name=f"Agent {index}",
                    role=Role.agent,
                    sip_user=f"b{secrets.token_hex(5)}",
                ),
                clock=clock,
            )
            agent_ids.append(agent.id)
        await campaigns.assign_agents(session, campaign_id, CampaignAgentsAssign(agent_ids=agent_ids), clock=clock)
        for agent_id in agent_ids:
            await agents.set_state(
                session, principal, agent_id, AgentStateChange(state=SettableStatus.available), clock=clock
            )
    with tempfile.TemporaryDirectory(prefix="engage-bench-") as folder:
        path = Path(folder) / "bench-registry-AE.csv"
        listed = numbers[DNC_LISTED : 2 * DNC_LISTED]
        await asyncio.to_thread(path.write_text, "phone\n" + "".join(f"{n}\n" for n in listed), "utf-8")
        await registry.import_registry(url, "AE", path, replace=False, clock=clock)
    async with tenant_transaction(sessions_, tenant.id) as session:
        await campaigns.start_campaign(session, campaign_id, clock=clock)
    return tenant.id, campaign_id


async def _listen(client: EslClient, seen: dict[tuple[str, str], float]) -> None:
    """The switch's own instant of each bridge and hangup, by leg."""
    async for signal in client.signals():
        if isinstance(signal, Event) and signal.name in ("CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE"):
            stamp = signal.get("Event-Date-Timestamp")
            leg = signal.get("Unique-ID")
            if stamp and leg:
                seen[(signal.name, leg)] = int(stamp) / 1e6


async def _bench_dialer(settings: Settings, seconds: float) -> dict[str, object]:
    password = secrets.token_urlsafe(16)
    overrides = {
        "ENGAGE_SIM_ANSWER_RATE": "0.6",
        "ENGAGE_SIM_BUSY_RATE": "0.1",
        "ENGAGE_SIM_VOICEMAIL_RATE": "0.05",
        "ENGAGE_SIM_RING_SECONDS": "1-3",
        "ENGAGE_SIM_TALK_SECONDS": "5-20",
    }
    simulator, port = await start_simulator(password, 0.0, overrides=overrides)
    # AE's calling hours, whatever the real hour: the workers' clock starts at a permitted 10:00 in Dubai.
    clock = ShiftedClock(demo_clock_start(datetime.now(UTC)))
    # The workers' instants minus the switch's (the wall clock), read at one moment.
    shift = (clock.now() - datetime.now(UTC)).total_seconds()
    numbers = _numbers(CONTACTS)
    try:
        async with database_url(settings, stop_embedded=False) as url:
            await migrate(url)
            engine = create_engine(url, pool_size=10)
            sessions = session_factory(engine)
            try:
                tenant_id, campaign_id = await _seed(sessions, url, clock, numbers)
                clients: list[EslClient] = []
                switches: list[EslSwitch] = []
                workers: list[tuple[Worker, asyncio.Event, asyncio.Task[None]]] = []
                listener = EslClient()
                await listener.connect("127.0.0.1", port, password)
                await listener.subscribe(["CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE"])
                seen: dict[tuple[str, str], float] = {}
                listening = asyncio.create_task(_listen(listener, seen))
                config = WorkerConfig(
                    ring_timeout_seconds=15, recordings_dir=Path(tempfile.gettempdir()) / "engage-bench-recordings"
                )
                for _ in range(2):
                    client = EslClient()
                    await client.connect("127.0.0.1", port, password)
                    switch = EslSwitch(client, gateway="carrier", clock=clock)
                    await switch.start()
                    worker = Worker(
                        sessions=sessions,
                        switch=switch,
                        clock=clock,
                        engine=Engine(clock=clock, budget_seconds=1.0),
                        config=config,
                        phones=SimPhones(client),
                    )
                    stop = asyncio.Event()
                    workers.append((worker, stop, asyncio.create_task(worker.run(stop))))
                    clients.append(client)
                    switches.append(switch)
                started = time.monotonic()
                await asyncio.sleep(max(seconds, MIN_SECONDS))
                dialling_seconds = time.monotonic() - started
                held = [w.campaigns for w, _, _ in workers]
                async with tenant_transaction(sessions, tenant_id) as session:
                    await campaigns.pause_campaign(session, campaign_id, clock=clock)
                drain_deadline = time.monotonic() + DRAIN_SECONDS
                while time.monotonic() < drain_deadline and any(w.live_calls for w, _, _ in workers):  # noqa: ASYNC110
                    # Polls the workers' own counts: they expose no event for "no call left", and 0.2 s is coarse
                    # enough to cost nothing.
                    await asyncio.sleep(0.2)
                for _, stop, _ in workers:
                    stop.set()
                await asyncio.gather(*(task for _, _, task in workers), return_exceptions=True)
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
                for switch in switches:
                    await switch.close()
                for client in [*clients, listener]:
                    await client.close()
                return await _figures(
                    sessions,
                    tenant_id,
                    campaign_id,
                    numbers,
                    seen,
                    shift,
                    dialling_seconds,
                    held,
                )
            finally:
                await engine.dispose()
    finally:
        await stop_simulator(simulator)


async def _figures(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    numbers: Sequence[str],
    seen: dict[tuple[str, str], float],
    shift: float,
    dialling_seconds: float,
    held: list[frozenset[uuid.UUID]],
) -> dict[str, object]:
    async with tenant_transaction(sessions, tenant_id) as session:
        calls = list((await session.scalars(select(Call).where(Call.campaign_id == campaign_id))).all())
        over = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign_id, Contact.attempts > 2)
        )
        dialing = await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.campaign_id == campaign_id, Contact.status == "dialing")
        )
        audits = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.campaign_id == campaign_id, AuditEntry.channel == "dialer")
        )
        blocked = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.event_type == "call.compliance_blocked")
        )
        statuses = dict(
            (
                await session.execute(
                    select(Contact.status, func.count())
                    .where(Contact.campaign_id == campaign_id)
                    .group_by(Contact.status)
                )
            )
            .tuples()
            .all()
        )
    dnc_numbers = set(numbers[: 2 * DNC_LISTED])
    bridge_lag, hangup_lag = [], []
    for call in calls:
        leg = str(call.id)
        if call.bridged_at is not None and ("CHANNEL_BRIDGE", leg) in seen:
            bridge_lag.append(call.bridged_at.timestamp() - shift - seen[("CHANNEL_BRIDGE", leg)])
        if call.ended_at is not None and ("CHANNEL_HANGUP_COMPLETE", leg) in seen:
            hangup_lag.append(call.ended_at.timestamp() - shift - seen[("CHANNEL_HANGUP_COMPLETE", leg)])
    talk = sum(call.talk_time_seconds or 0 for call in calls)
    window = max(dialling_seconds, 1e-9)

    def lag(samples: list[float]) -> dict[str, float | int]:
        if not samples:
            return {"samples": 0}
        return {
            "samples": len(samples),
            "p50_ms": round(percentile(samples, 0.5) * 1000, 1),
            "p99_ms": round(percentile(samples, 0.99) * 1000, 1),
        }

    return {
        "agents": AGENTS,
        "contacts": len(numbers),
        "workers": 2,
        "campaign_held_by_workers": [len(h) for h in held],
        "dialling_seconds": round(dialling_seconds, 1),
        "calls": len(calls),
        "calls_per_second": round(len(calls) / window, 2),
        "connected_calls": sum(1 for c in calls if c.bridged_at is not None),
        "abandoned_calls": sum(1 for c in calls if c.abandoned),
        "call_statuses": dict(
            sorted({s: sum(1 for c in calls if c.status == s) for s in {c.status for c in calls}}.items())
        ),
        "contact_statuses": statuses,
        "agent_talk_occupancy": round(talk / (AGENTS * window), 3),
        "lag_switch_event_to_call_row": {"bridge": lag(bridge_lag), "hangup": lag(hangup_lag)},
        "invariants": {
            "contacts_over_max_attempts": int(over or 0),
            "dnc_numbers_dialled": sum(1 for c in calls if c.contact_phone in dnc_numbers),
            "calls_left_live": sum(1 for c in calls if c.status in LIVE_STATUSES),
            "contacts_left_dialing": int(dialing or 0),
            "calls_without_their_own_audit_row": len(calls)
            - len({c.compliance_audit_ref for c in calls if c.compliance_audit_ref}),
            "audit_rows_minus_attempts_and_blocks": int(audits or 0) - len(calls) - int(blocked or 0),
        },
    }


def bench_dialer(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(asyncio.run(_bench_dialer(settings, args.seconds)), indent=2))
    return 0
