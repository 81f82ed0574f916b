"""The dialer end to end in one process: the switch simulator on a real loopback socket, the ESL client and
adapter, simulated phones, and a `Worker` over the run's real PostgreSQL.

Time: the worker's clock is a `SteppingClock` — it runs at real speed from a chosen instant (so ring and talk
times of a few hundred milliseconds are real) and jumps when a test advances it past a retry delay or a
wrap-up. Every wait is bounded (`eventually`)."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.agents import service as agents
from engage.agents.schemas import AgentStateChange, SettableStatus
from engage.calls.models import Call
from engage.campaigns import service as campaigns
from engage.campaigns.models import Campaign
from engage.campaigns.schemas import CampaignAgentsAssign, CampaignUpdate, DialingMode
from engage.compliance.engine import Engine
from engage.compliance.models import AuditEntry
from engage.contacts import service as contacts
from engage.contacts.models import Contact
from engage.contacts.schemas import ContactIn, ContactUpload
from engage.core.db import asyncpg_url, tenant_transaction
from engage.core.outbox import OutboxEvent
from engage.core.principal import Principal, Role
from engage.core.runtime import Runtime
from engage.dialer.worker import Worker, WorkerConfig
from engage.telephony.esl.client import Backoff, EslClient
from engage.telephony.esl.switch import EslSwitch
from engage.telephony.sim.phones import SimPhones
from engage.telephony.sim.server import Behaviour, SwitchSimulator
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory

PASSWORD = "ClueCon-dialer-test"
# How long `eventually` polls before failing: generous, because a campaign's progress rides on the machine's
# speed (a fresh-clone CI run on a slow day timed out at 20 s on two tests that take 2 to 5 s alone).
WAIT_SECONDS = 60.0
# Wednesday 10 June 2026, 11:00 in Dubai: inside every Gulf window, no holiday, not Ramadan.
OPEN_IN_DUBAI = datetime(2026, 6, 10, 11, 0, tzinfo=ZoneInfo("Asia/Dubai")).astimezone(UTC)

T = TypeVar("T")


class SteppingClock:
    """Real time from `start`, plus whatever a test adds with `advance`."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._origin = time.monotonic()
        self._offset = timedelta()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)


async def eventually(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], what: str) -> T:
    """Poll `probe` until `check` holds, for at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    value = await probe()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.05)
        value = await probe()
    return value


@pytest.fixture
def behaviour() -> Behaviour:
    """Everyone answers; rings and talks last a few hundred milliseconds."""
    return Behaviour(
        answer_rate=1.0, busy_rate=0.0, voicemail_rate=0.0, ring_seconds=(0.05, 0.15), talk_seconds=(0.3, 0.5), seed=11
    )


@pytest.fixture
async def sim(behaviour: Behaviour, tmp_path: Any) -> AsyncIterator[SwitchSimulator]:
    simulator = SwitchSimulator(
        password=PASSWORD, behaviour=behaviour, recordings_dir=tmp_path, heartbeat_seconds=0.5, message_seconds=0.1
    )
    await simulator.start("127.0.0.1", 0)
    yield simulator
    await simulator.stop()


@pytest.fixture
def dial_clock() -> SteppingClock:
    return SteppingClock(OPEN_IN_DUBAI)


@dataclass
class Dialer:
    """One worker (more with `add_worker`) running against the simulator."""

    runtime: Runtime
    sim: SwitchSimulator
    clock: SteppingClock
    config: WorkerConfig
    workers: list[tuple[Worker, asyncio.Event, asyncio.Task[None], EslClient, EslSwitch]] = field(default_factory=list)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.runtime.sessions

    @property
    def worker(self) -> Worker:
        return self.workers[0][0]

    async def add_worker(self) -> Worker:
        port = self.sim_port
        client = EslClient(
            command_timeout_seconds=2.0,
            heartbeat_timeout_seconds=None,
            backoff=Backoff(initial_seconds=0.02, max_seconds=0.1),
        )
        await asyncio.wait_for(client.connect("127.0.0.1", port, PASSWORD), 5)
        switch = EslSwitch(client, gateway="carrier", clock=self.clock)
        await asyncio.wait_for(switch.start(), 5)
        worker = Worker(
            sessions=self.sessions,
            switch=switch,
            clock=self.clock,
            engine=Engine(clock=self.clock, budget_seconds=2.0),
            config=self.config,
            phones=SimPhones(client),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        self.workers.append((worker, stop, task, client, switch))
        await asyncio.wait_for(worker.ready.wait(), 5)
        return worker

    sim_port: int = 0

    async def stop_all(self) -> None:
        for _, stop, _, _, _ in self.workers:
            stop.set()
        for _, _, task, client, switch in self.workers:
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
            await switch.close()
            await client.close()
        self.workers.clear()

    async def kill(self, worker: Worker) -> None:
        """As SIGKILL would: the task and its socket gone, no lease handed back."""
        for entry in list(self.workers):
            if entry[0] is worker:
                _, _, task, client, switch = entry
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await switch.close()
                await client.close()
                self.workers.remove(entry)


@pytest.fixture
def worker_config(tmp_path: Any) -> WorkerConfig:
    return WorkerConfig(
        ring_timeout_seconds=1,
        tick_seconds=0.05,
        heartbeat_seconds=0.2,
        lease_stale_seconds=3,
        max_lines_per_tick=50,
        abandon_after_seconds=0.5,
        recordings_dir=tmp_path,
    )


async def pause_leftover_campaigns(owner: asyncpg.Connection) -> None:
    """The whole run shares one database, and earlier tests leave campaigns active: `engage demo` (tests/cli)
    seeds a predictive campaign of many contacts and available agents, which a later test's worker would lease
    and dial alongside, and on a slow machine in place of, the campaign the test is about. Pausing them before
    a worker starts leaves it only what the test itself makes."""
    await owner.execute("UPDATE campaigns SET status = 'paused', paused_at = now() WHERE status = 'active'")


@pytest.fixture
async def dialer(
    runtime: Runtime, sim: SwitchSimulator, dial_clock: SteppingClock, worker_config: WorkerConfig, registries: Any
) -> AsyncIterator[Dialer]:
    await pause_leftover_campaigns(registries.owner)
    port = sim._server.sockets[0].getsockname()[1] if sim._server is not None else 0
    harness = Dialer(runtime=runtime, sim=sim, clock=dial_clock, config=worker_config, sim_port=port)
    yield harness
    await harness.stop_all()


# -- national registries (platform data, written as the schema owner) ----------------------------------------------


class Registries:
    def __init__(self, owner: asyncpg.Connection) -> None:
        self.owner = owner

    async def loaded(self, jurisdiction: str, *phones: str) -> None:
        await self.owner.execute(
            "INSERT INTO registry_loads (jurisdiction, loaded_at, count, mode, source) VALUES ($1, now(), 0, 'append', "
            "'test') ON CONFLICT (jurisdiction) DO NOTHING",
            jurisdiction,
        )
        await self.owner.executemany(
            "INSERT INTO registry_numbers (jurisdiction, phone) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(jurisdiction, phone) for phone in phones],
        )


@pytest.fixture
async def registries(database_url: str) -> AsyncIterator[Registries]:
    dsn = asyncpg_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    registries = Registries(connection)
    await registries.loaded("AE")
    try:
        yield registries
    finally:
        await connection.close()


# -- campaigns ready to dial ---------------------------------------------------------------------------------------


def random_ae_mobile() -> str:
    return f"+97150{secrets.randbelow(10_000_000):07d}"


@dataclass
class Floor:
    tenant: Tenant
    campaign_id: uuid.UUID
    agents: list[User]
    phones: list[str]


def _distinct_ae_mobiles(count: int) -> list[str]:
    # Distinct: the upload merges a repeated number, and 300 random ones repeat one about once in 200 runs.
    numbers: dict[str, None] = {}
    while len(numbers) < count:
        numbers[random_ae_mobile()] = None
    return list(numbers)


async def make_floor(
    factory: Factory,
    runtime: Runtime,
    *,
    contacts_count: int = 3,
    agents_count: int = 1,
    mode: DialingMode = DialingMode.progressive,
    phones: list[str] | None = None,
    start: bool = True,
    **settings: Any,
) -> Floor:
    """A tenant with an active campaign, its contacts and its available agents (with SIP users)."""
    tenant = await factory.tenant(name=f"Floor {secrets.token_hex(3)}")
    campaign_id = await factory.campaign(tenant)
    admin = await factory.user(tenant, Role.admin)
    principal = Principal(user_id=admin.id, tenant_id=tenant.id, role=Role.admin)
    agent_users = [
        await factory.user(tenant, Role.agent, full_name=f"Agent {i}", sip_user=f"a{secrets.token_hex(4)}")
        for i in range(agents_count)
    ]
    numbers = phones if phones is not None else _distinct_ae_mobiles(contacts_count)
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        update = CampaignUpdate(dialing_mode=mode, **settings)
        await campaigns.update_campaign(session, campaign_id, update, clock=runtime.clock)
        await contacts.upload(
            session,
            tenant.id,
            campaign_id,
            ContactUpload(contacts=[ContactIn(phone=p, first_name=f"C{i}") for i, p in enumerate(numbers)]),
            clock=runtime.clock,
        )
        await campaigns.assign_agents(
            session, campaign_id, CampaignAgentsAssign(agent_ids=[a.id for a in agent_users]), clock=runtime.clock
        )
        for agent in agent_users:
            await agents.set_state(
                session, principal, agent.id, AgentStateChange(state=SettableStatus.available), clock=runtime.clock
            )
        if start:
            await campaigns.start_campaign(session, campaign_id, clock=runtime.clock)
    return Floor(tenant=tenant, campaign_id=campaign_id, agents=agent_users, phones=numbers)


# -- reading what happened -----------------------------------------------------------------------------------------


@dataclass
class Reader:
    sessions: async_sessionmaker[AsyncSession]

    async def calls(self, floor: Floor) -> list[Call]:
        async with tenant_transaction(self.sessions, floor.tenant.id) as session:
            query = select(Call).where(Call.campaign_id == floor.campaign_id).order_by(Call.id)
            return list((await session.scalars(query)).all())

    async def contacts(self, floor: Floor) -> list[Contact]:
        async with tenant_transaction(self.sessions, floor.tenant.id) as session:
            query = select(Contact).where(Contact.campaign_id == floor.campaign_id).order_by(Contact.id)
            return list((await session.scalars(query)).all())

    async def campaign(self, floor: Floor) -> Campaign:
        async with tenant_transaction(self.sessions, floor.tenant.id) as session:
            found = await session.get(Campaign, floor.campaign_id)
            assert found is not None
            return found

    async def events(self, floor: Floor, event_type: str | None = None) -> list[OutboxEvent]:
        async with tenant_transaction(self.sessions, floor.tenant.id) as session:
            query = select(OutboxEvent).order_by(OutboxEvent.id)
            if event_type is not None:
                query = query.where(OutboxEvent.event_type == event_type)
            return list((await session.scalars(query)).all())

    async def dialer_decisions(self, floor: Floor) -> int:
        """The compliance decisions the dialer had audited for the campaign."""
        async with tenant_transaction(self.sessions, floor.tenant.id) as session:
            count = await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.campaign_id == floor.campaign_id, AuditEntry.channel == "dialer")
            )
            return int(count or 0)

    async def audit_rows(self, floor: Floor) -> int:
        async with tenant_transaction(self.sessions, floor.tenant.id) as session:
            from_audit = await session.execute(
                select(func.count()).select_from(
                    select(Call.compliance_audit_ref).where(Call.campaign_id == floor.campaign_id).subquery()
                )
            )
            return int(from_audit.scalar_one())


@pytest.fixture
def reader(runtime: Runtime) -> Reader:
    return Reader(runtime.sessions)


def ended(calls: list[Call]) -> bool:
    return bool(calls) and all(call.ended_at is not None for call in calls)
