"""PostgreSQL restarted under load: `engage api` and `engage worker` (real processes) against a PostgreSQL of this
test's own, the switch simulator dialling a campaign and a steady mix of API requests, while the database is
stopped (fast shutdown) for a few seconds and started again.

While it is down the API answers 503 with a problem body on every route that needs it (never a 500, never a
hang) and /readyz says not ready; once it is back both processes carry on by themselves: the API answers again,
the worker dials again, and nothing is half-written (calls, contacts, agents and the outbox agree).

The server is the embedded PostgreSQL (the wheel every install has) in a folder of its own, on a Unix socket
under that folder: the shared server on 127.0.0.1:5432 that the rest of the suite uses is never touched.
The processes run on the real clock, so the contacts are numbers of a country inside its calling hours now.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from engage.bench.floor import callable_numbers
from engage.config import DatabaseSettings, JwtSettings, Settings
from engage.core.clock import SystemClock
from engage.core.db import asyncpg_url, create_database_if_missing, create_engine, session_factory, with_database
from engage.core.embedded_pg import EmbeddedPostgres
from engage.core.errors import PROBLEM_MEDIA_TYPE
from engage.core.principal import Role
from engage.core.ratelimit import InMemoryCounter
from engage.core.runtime import Runtime
from engage.core.security import TokenCodec
from engage.migrate import migrate
from engage.telephony.sim.server import SwitchSimulator
from engage.tenancy.service import RateLimitCache
from engage.users.standing import StandingCache
from tests.cli.processes import (
    ENGAGE,
    STARTUP_TIMEOUT_SECONDS,
    STOP_TIMEOUT_SECONDS,
    clean_environment,
    free_port,
    stop_postmasters,
)
from tests.dialer.conftest import PASSWORD, Floor, Reader, make_floor
from tests.dialer.test_worker_processes import within

from ...factories import Factory
from .conftest import assert_each_call_announced_once
from .switch_log import SwitchLog

LIVE = {"dialing", "ringing", "answered", "bridged"}
# Bounds, generous for a loaded two-core machine: how long the API may take to answer one request (a hang is
# longer), how long recovery may take once the database is back, how long calls take to settle.
REQUEST_TIMEOUT_SECONDS = 20.0
RECOVERY_SECONDS = 60.0
SETTLE_SECONDS = 60.0
# How long the database stays down at least: long enough for every pooled connection to be tried and found dead.
DOWN_SECONDS = 4.0


# -- the private server -----------------------------------------------------------------------------------------


@dataclass
class PrivatePostgres:
    """The embedded server in a short folder of its own (its Unix socket lives there, under ~107 bytes)."""

    folder: Path
    server: EmbeddedPostgres
    url: str = ""

    def start(self) -> str:
        self.url = self.server.start()
        return self.url

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back and every client is disconnected."""
        self.server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="egpg", dir="/tmp"))
    private = PrivatePostgres(folder, EmbeddedPostgres(folder))
    try:
        private.start()
        yield private
    finally:
        private.stop()
        stop_postmasters(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def private_url(private_postgres: PrivatePostgres) -> str:
    await create_database_if_missing(private_postgres.url, "engage")
    url = with_database(private_postgres.url, "engage")
    await migrate(url)
    return url


def owner_dsn(url: str) -> str:
    return asyncpg_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def owner_fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """One query as the owner on a connection of its own (a pooled one would not survive the restart)."""
    connection = await asyncpg.connect(owner_dsn(url), timeout=10)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


@pytest.fixture
async def private_runtime(private_url: str) -> AsyncIterator[Runtime]:
    """The test's own handle on the private database (to build the floor and read the outcome), with the JWT
    secret the API process is given, so the factory's tokens are accepted there."""
    settings = Settings(
        database=DatabaseSettings(url=private_url), jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(40)))
    )
    assert settings.jwt.secret is not None
    engine = create_engine(private_url, pool_size=2)
    sessions = session_factory(engine)
    yield Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        counter=InMemoryCounter(),
        tokens=TokenCodec(
            settings.jwt.secret.get_secret_value(), settings.jwt.algorithm, settings.jwt.access_ttl_seconds
        ),
        clock=SystemClock(),
        tenant_rate_limit=RateLimitCache(sessions, default_per_minute=settings.rate.default_per_minute, ttl_seconds=0),
        access=StandingCache(sessions),
    )
    await engine.dispose()


# -- the processes ----------------------------------------------------------------------------------------------


@dataclass
class Process:
    process: asyncio.subprocess.Process
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@asynccontextmanager
async def engage_process(*args: str, env: dict[str, str], name: str) -> AsyncIterator[Process]:
    """`engage *args` in a process group of its own; whatever the test does, the group is gone after."""
    log = Path(env["ENGAGE_DATA_DIR"]) / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(ENGAGE), *args, env=env, cwd=env["ENGAGE_DATA_DIR"], stdout=out, stderr=out, start_new_session=True
        )
    try:
        yield Process(process, log)
    finally:
        if process.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)


def process_env(url: str, runtime: Runtime, sim_port: int, data_dir: Path) -> dict[str, str]:
    assert runtime.settings.jwt.secret is not None
    return {
        **clean_environment(),
        "ENGAGE_DATA_DIR": str(data_dir),
        "ENGAGE_DATABASE_URL": url,
        "ENGAGE_JWT_SECRET": runtime.settings.jwt.secret.get_secret_value(),
        "ENGAGE_TELEPHONY": "esl",
        "ENGAGE_ESL_HOST": "127.0.0.1",
        "ENGAGE_ESL_PORT": str(sim_port),
        "ENGAGE_ESL_PASSWORD": PASSWORD,
        "ENGAGE_DIALER_TICK_SECONDS": "0.1",
        "ENGAGE_DIALER_HEARTBEAT_SECONDS": "0.5",
        "ENGAGE_DIALER_LEASE_STALE_SECONDS": "5",
        "ENGAGE_DIALER_RING_TIMEOUT_SECONDS": "15",
        "ENGAGE_LOG_LEVEL": "INFO",
    }


# -- the load -----------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    route: str
    sent_at: float
    status: int | None  # None: no answer within REQUEST_TIMEOUT_SECONDS, or the connection failed
    content_type: str = ""
    problem_status: object = None
    took_seconds: float = 0.0
    retry_after: str | None = None


@dataclass
class Load:
    """A bounded mix of API requests, one after another, until stopped: reads of the campaign, its calls and its
    agents, and DNC additions (writes whose every 201 must be kept and every 503 must leave nothing behind)."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    campaign_id: uuid.UUID
    answers: list[Answer] = field(default_factory=list)
    dnc_numbers: dict[str, Answer] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def routes(self) -> list[tuple[str, str, dict[str, Any] | None]]:
        return [
            ("GET", f"/v1/campaigns/{self.campaign_id}", None),
            ("GET", f"/v1/calls?campaign_id={self.campaign_id}&limit=20", None),
            ("GET", "/v1/calls/active-count", None),
            ("GET", "/v1/agents/state", None),
            ("POST", "/v1/dnc", {"phones": [f"+97150{secrets.randbelow(10_000_000):07d}"], "reason": "load"}),
        ]

    async def send(self, method: str, path: str, body: dict[str, Any] | None) -> Answer:
        route = f"{method} {path.split('?')[0]}"
        sent_at = time.monotonic()
        try:
            response = await self.client.request(
                method, path, json=body, headers=self.headers, timeout=REQUEST_TIMEOUT_SECONDS
            )
        except httpx.TransportError:
            answer = Answer(route, sent_at, None, took_seconds=time.monotonic() - sent_at)
        else:
            content_type = response.headers.get("content-type", "")
            problem = response.json().get("status") if content_type.startswith(PROBLEM_MEDIA_TYPE) else None
            answer = Answer(
                route,
                sent_at,
                response.status_code,
                content_type,
                problem,
                time.monotonic() - sent_at,
                response.headers.get("retry-after"),
            )
        self.answers.append(answer)
        if body is not None:
            self.dnc_numbers[body["phones"][0]] = answer
        return answer

    async def run(self) -> None:
        while not self.stopping.is_set():
            for method, path, body in self.routes():
                await self.send(method, path, body)
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.2)

    def since(self, instant: float) -> list[Answer]:
        return [answer for answer in self.answers if answer.sent_at > instant]


def route_count(load: Load) -> int:
    return len(load.routes())


def each_route_answered(answers: list[Answer], status: int, routes: int) -> bool:
    return len({answer.route for answer in answers if answer.status == status}) == routes


# -- reading the outcome ----------------------------------------------------------------------------------------


async def lease_holder_pid(url: str, campaign_id: uuid.UUID) -> int | None:
    rows = await owner_fetch(
        url,
        "SELECT w.pid FROM campaign_leases l JOIN dialer_workers w ON w.id = l.worker_id WHERE l.campaign_id = $1",
        campaign_id,
    )
    return int(rows[0]["pid"]) if rows else None


async def agent_states(url: str, floor: Floor) -> dict[str, tuple[str, object]]:
    rows = await owner_fetch(
        url,
        "SELECT agent_id, state, wrap_up_until FROM agent_states WHERE agent_id = ANY($1::uuid[])",
        [agent.id for agent in floor.agents],
    )
    return {str(row["agent_id"]): (row["state"], row["wrap_up_until"]) for row in rows}


async def dnc_numbers(url: str, tenant_id: uuid.UUID) -> set[str]:
    rows = await owner_fetch(url, "SELECT phone FROM dnc_entries WHERE tenant_id = $1", tenant_id)
    return {row["phone"] for row in rows}


# -- the test -----------------------------------------------------------------------------------------------------


async def test_postgres_restarted_under_load_gives_503_problems_then_api_and_worker_recover_with_nothing_half_written(
    private_postgres: PrivatePostgres,
    private_url: str,
    private_runtime: Runtime,
    sim: SwitchSimulator,
    sim_port: int,
    dials: SwitchLog,
    tmp_path: Path,
) -> None:
    runtime = private_runtime
    factory = Factory(runtime)
    reader = Reader(runtime.sessions)
    phones = callable_numbers(60, datetime.now(UTC), timedelta(minutes=10))
    floor = await make_floor(factory, runtime, phones=phones, agents_count=3, wrap_up_seconds=1, retry_delay_minutes=60)
    for agent in floor.agents:
        assert agent.sip_user is not None
        sim.register(agent.sip_user)
    supervisor = await factory.user(floor.tenant, Role.supervisor)
    headers = factory.headers(supervisor)
    env = process_env(private_url, runtime, sim_port, tmp_path)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"

    async with (
        engage_process("api", "--host", "127.0.0.1", "--port", str(port), env=env, name="api") as api,
        engage_process("worker", env=env, name="worker") as worker,
        httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client,
    ):

        async def ready() -> int | None:
            assert api.process.returncode is None, f"engage api exited:\n{api.output()}"
            assert worker.process.returncode is None, f"engage worker exited:\n{worker.output()}"
            try:
                return (await client.get("/readyz")).status_code
            except httpx.TransportError:
                return None

        async def bridged() -> list[Any]:
            return [call for call in await reader.calls(floor) if call.status == "bridged"]

        await within(STARTUP_TIMEOUT_SECONDS, ready, lambda status: status == 200, f"the API\n{api.output()}")
        await within(
            STARTUP_TIMEOUT_SECONDS,
            lambda: lease_holder_pid(private_url, floor.campaign_id),
            lambda pid: pid == worker.process.pid,
            f"the worker's lease\n{worker.output()}",
        )
        await within(SETTLE_SECONDS, bridged, bool, f"a call up\n{worker.output()}")

        load = Load(client, headers, floor.campaign_id)
        load_task = asyncio.create_task(load.run())
        try:
            routes = route_count(load)
            await within(
                RECOVERY_SECONDS,
                lambda: asyncio.sleep(0, load.answers),
                lambda answers: each_route_answered(answers, 200, routes - 1) and each_route_answered(answers, 201, 1),
                "every route answering before the fault",
            )

            # -- the fault: PostgreSQL stops (fast shutdown) ---------------------------------------------------
            await asyncio.to_thread(private_postgres.stop)
            stopped_at = time.monotonic()
            down = await within(
                RECOVERY_SECONDS,
                lambda: asyncio.sleep(0, load.since(stopped_at)),
                lambda answers: (
                    each_route_answered(answers, 503, routes) and time.monotonic() - stopped_at >= DOWN_SECONDS
                ),
                "a 503 from every route while the database is down",
            )
            readiness = await client.get("/readyz")
            liveness = await client.get("/healthz")
            assert worker.process.returncode is None, f"the worker died with the database:\n{worker.output()}"
            url_before = private_postgres.url
            await asyncio.to_thread(private_postgres.start)
            restarted_at = time.monotonic()
            assert private_postgres.url == url_before  # same socket: the processes need no new configuration

            # While it was down: 503 problems, each within the bound, from every route; not ready, but alive.
            assert readiness.status_code == 503
            assert liveness.status_code == 200
            assert all(answer.status == 503 for answer in down), Counter((a.route, a.status) for a in down)
            assert all(answer.content_type.startswith(PROBLEM_MEDIA_TYPE) for answer in down)
            assert all(answer.problem_status == 503 for answer in down)
            assert all(answer.retry_after is not None and answer.retry_after.isdigit() for answer in down)

            # -- recovery, by itself -----------------------------------------------------------------------------
            await within(
                RECOVERY_SECONDS,
                lambda: asyncio.sleep(0, load.since(restarted_at)),
                lambda answers: each_route_answered(answers, 200, routes - 1) and each_route_answered(answers, 201, 1),
                f"every route answering again\n{api.output()}",
            )
            assert (await client.get("/readyz")).status_code == 200
            await within(
                RECOVERY_SECONDS,
                lambda: asyncio.sleep(0, dials.dialled_since(restarted_at)),
                bool,
                f"the worker dialling again\n{worker.output()}",
            )
        finally:
            load.stopping.set()
            await asyncio.wait_for(load_task, REQUEST_TIMEOUT_SECONDS * 2)

        # Never a 500, never a hang: every request of the run was answered within the bound, 2xx or a 503 problem.
        statuses = Counter((answer.route, answer.status) for answer in load.answers)
        assert all(answer.status in (200, 201, 503) for answer in load.answers), statuses
        assert all(answer.took_seconds < REQUEST_TIMEOUT_SECONDS for answer in load.answers)

        # Settle: pause (through the API), let every call in flight end.
        paused = await client.post(f"/v1/campaigns/{floor.campaign_id}/pause", headers=headers)
        assert paused.status_code == 200, paused.text
        calls = await within(
            SETTLE_SECONDS,
            lambda: reader.calls(floor),
            lambda found: all(call.ended_at is not None for call in found),
            f"every call to end\n{worker.output()}",
        )
        worker.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.process.wait(), STOP_TIMEOUT_SECONDS) == 0, worker.output()

    # Nothing half-written. Calls: none live, each one attempt of its contact, every switch leg has its row, no
    # number dialled twice (the retry delay is an hour), nobody bridged twice.
    contacts = await reader.contacts(floor)
    campaign = await reader.campaign(floor)
    assert not [call for call in calls if call.status in LIVE]
    assert not [contact for contact in contacts if contact.status == "dialing"]
    assert all(contact.attempts <= campaign.max_attempts for contact in contacts)
    assert sum(contact.attempts for contact in contacts) == len(calls)
    assert set(dials.leg_ids) <= {str(call.id) for call in calls}
    assert max(dials.per_number().values()) == 1
    assert max(Counter(call.contact_id for call in calls if call.bridged_at is not None).values()) == 1
    # A contact's state agrees with its calls: completed iff one of them reached an agent.
    reached = {call.contact_id for call in calls if call.bridged_at is not None}
    assert {contact.id for contact in contacts if contact.status == "completed"} == reached
    # Agents: none left reserved or on a call that is over.
    states = await agent_states(private_url, floor)
    assert all(state in ("available", "wrap_up") for state, _ in states.values()), states
    await assert_each_call_announced_once(reader, floor, calls)
    # DNC writes: every 201 kept, every 503 left nothing behind.
    stored = await dnc_numbers(private_url, floor.tenant.id)
    assert {phone for phone, answer in load.dnc_numbers.items() if answer.status == 201} <= stored
    assert not {phone for phone, answer in load.dnc_numbers.items() if answer.status == 503} & stored
