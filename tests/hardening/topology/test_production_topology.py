"""The production topology, brought up from docs/operations.md's own command block: `engage migrate`, the switch
simulator, two `engage api` behind the loopback proxy, two `engage worker`, Redis and one PostgreSQL, each a real
process. A campaign dials under a realistic API mix while one API and the worker holding the campaign's lease are
SIGKILLed; nothing is lost, and the tenant's rate limit is one budget across both APIs.

The workers run on the real clock, so the numbers are of a country inside its calling hours right now
(`floor.callable_numbers`). The lease settings are the production defaults: the take-over within 30 s is the
promise as shipped, not as tuned for a test.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from engage.bench.floor import callable_numbers, expect, log_in, open_floor, seed_people
from engage.bench.mix import Mix, dialling_figures, invariants, lease_holder, missing_uploads
from engage.bench.topology import (
    PRODUCTION,
    Running,
    block_in_document,
    free_port_values,
    launch,
    owner_dsn,
    parse_block,
)
from engage.core.db import create_database_if_missing, drop_database, with_database
from tests.dialer.test_worker_processes import within

from ...conftest import REDIS_URL
from ...problems import assert_problem

T = TypeVar("T")
DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
# A database number of Redis for this module alone, flushed before it starts (the suite's own tests use 15).
REDIS_DATABASE = 13
# Callees answer quickly and talk for a few seconds, so calls are up at every instant of the run and it settles
# fast; nobody rings out (a ring-out lasts the full ring timeout).
CALLEES = {
    "ENGAGE_SIM_ANSWER_RATE": "0.8",
    "ENGAGE_SIM_BUSY_RATE": "0.1",
    "ENGAGE_SIM_VOICEMAIL_RATE": "0.1",
    "ENGAGE_SIM_RING_SECONDS": "0.5-1.5",
    "ENGAGE_SIM_TALK_SECONDS": "2-5",
    "ENGAGE_SIM_SEED": "16",
}
AGENTS = 6
CONTACTS = 240
RATE_LIMIT = 20
# Bounded waits, generous for a loaded two-core machine.
WAIT_SECONDS = 90.0
TAKEOVER_SECONDS = 30.0  # the promise (DESIGN.md §1, docs/operations.md)
# A connection cut by the API's death is noticed by its client at once (the proxy closes it when the upstream's
# socket closes); on a loaded machine "at once" can take a few seconds to be scheduled.
AROUND_THE_KILL_SECONDS = 15.0


@dataclass
class Deployed:
    running: Running
    values: dict[str, str]
    database_url: str
    owner: asyncpg.Connection

    @property
    def balancer(self) -> str:
        return f"http://{self.values['PROXY_HOST']}:{self.values['PROXY_PORT']}"

    @property
    def apis(self) -> list[str]:
        return [f"http://{self.values['API_HOST']}:{self.values[port]}" for port in ("API_PORT_1", "API_PORT_2")]

    @property
    def esl(self) -> tuple[str, int, str]:
        return self.values["ESL_HOST"], int(self.values["ESL_PORT"]), self.values["ESL_PASSWORD"]

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output(2000)}" for p in self.running.processes.values())


def redis_database(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))


@pytest.fixture(scope="module")
async def deployed(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployed]:
    """The command block of docs/operations.md, placeholders filled with loopback ports, a fresh database and a
    Redis database of its own, each line a process."""
    folder = tmp_path_factory.mktemp("topology")
    name = f"engage_topology_{secrets.token_hex(4)}"
    await create_database_if_missing(server_url, name)
    database_url = with_database(server_url, name)
    redis_url = redis_database(REDIS_URL, REDIS_DATABASE)
    redis: Redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DATA_DIR": str(folder / "data"),
        "ESL_HOST": "127.0.0.1",
        "ESL_PASSWORD": secrets.token_urlsafe(16),
        "API_HOST": "127.0.0.1",
        "PROXY_HOST": "127.0.0.1",
        **free_port_values("ESL_PORT", "API_PORT_1", "API_PORT_2", "PROXY_PORT"),
    }
    values["PUBLIC_URL"] = f"http://127.0.0.1:{values['PROXY_PORT']}"
    topology = parse_block(block_in_document(DOCUMENT.read_text()))
    try:
        async with launch(topology, values, logs=folder / "logs", extra_environment=CALLEES) as running:
            owner = await asyncpg.connect(owner_dsn(database_url), timeout=10)
            try:
                yield Deployed(running, values, database_url, owner)
            finally:
                await owner.close()
    finally:
        await drop_database(server_url, name)


def test_the_documented_command_block_is_the_topology_the_soak_runs() -> None:
    documented = parse_block(block_in_document(DOCUMENT.read_text()))

    assert documented == PRODUCTION
    assert [step.kind for step in documented.steps] == ["migrate", "sim", "api", "api", "worker", "worker", "proxy"]


async def test_a_tenant_rate_limit_is_one_budget_shared_by_both_apis(deployed: Deployed) -> None:
    people = await seed_people(deployed.database_url, name="Limited", agents=0, rate_limit_per_minute=RATE_LIMIT)
    await log_in(deployed.balancer, people, [people.supervisor])
    headers = people.headers(people.supervisor)

    responses = []
    async with httpx.AsyncClient(timeout=30) as client:
        # Alternately to each API: each sees only half the requests, yet the budget ends for both at once.
        for n in range(RATE_LIMIT + 6):
            responses.append(await client.get(f"{deployed.apis[n % 2]}/v1/campaigns", headers=headers))

    assert [r.status_code for r in responses] == [200] * RATE_LIMIT + [429] * 6, deployed.logs()
    assert [int(r.headers["ratelimit-remaining"]) for r in responses[:RATE_LIMIT]] == list(range(RATE_LIMIT))[::-1]
    for refused in responses[RATE_LIMIT:]:
        assert_problem(refused, 429, "rate-limited")
        assert refused.headers["ratelimit-limit"] == str(RATE_LIMIT)
        assert 1 <= int(refused.headers["retry-after"]) <= 60


async def _get_on(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    """One keep-alive GET on an open connection: its status, once the whole response is read."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: engage\r\n\r\n".encode())
    await writer.drain()
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)).decode("latin-1").split("\r\n")
    length = next(int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:"))
    await asyncio.wait_for(reader.readexactly(length), 30)
    return int(head[0].split()[1])


async def test_an_api_keeps_an_idle_connection_open_longer_than_a_balancer_keeps_it(deployed: Deployed) -> None:
    """A balancer reuses its idle connections to an API for up to 60 s (nginx, AWS ALB): were the API to close
    one first, a request sent as it closes would be cut. uvicorn's default (5 s) cut requests in the soak."""
    api = urlsplit(deployed.apis[1])
    assert api.hostname is not None
    assert api.port is not None
    reader, writer = await asyncio.open_connection(api.hostname, api.port)
    try:
        assert await _get_on(reader, writer, "/healthz") == 200
        # Idle past uvicorn's 5 s default: the connection must still be open, and serve the next request.
        await asyncio.sleep(6)
        assert await _get_on(reader, writer, "/healthz") == 200
    finally:
        writer.close()


async def test_killing_an_api_and_the_lease_holding_worker_mid_campaign_loses_nothing(deployed: Deployed) -> None:
    running, owner = deployed.running, deployed.owner
    phones = callable_numbers(CONTACTS, datetime.now(UTC), timedelta(minutes=15))
    people = await seed_people(deployed.database_url, name="Floor", agents=AGENTS, rate_limit_per_minute=10**9)
    # Retries an hour away: within the test every contact is dialled at most once, so any second call is a double.
    campaigns = await open_floor(
        deployed.balancer, people, phones=phones, dialing_mode="progressive", max_attempts=2,
        retry_delay_minutes=60, wrap_up_seconds=1, esl=deployed.esl,
    )  # fmt: skip
    workers = {launched.pid: launched for launched in running.of_kind("worker")}
    holder_pid = await within(
        WAIT_SECONDS, lambda: lease_holder(owner, campaigns.dialling), lambda pid: pid in workers, "a lease"
    )
    assert holder_pid is not None
    holder = workers.pop(holder_pid)
    (survivor,) = workers.values()

    mix = Mix(deployed.balancer, people, campaigns, agent_poll_seconds=1.0)
    stop = asyncio.Event()
    load = asyncio.create_task(mix.run(stop))
    try:
        await within(
            WAIT_SECONDS,
            lambda: dialling_figures(owner, campaigns.dialling),
            lambda f: f["bridged"] >= 3 and f["live"] > 0 and bool(mix.tally.uploads_acknowledged),
            "calls bridged and up, and an upload acknowledged",
        )
        api_killed_at = time.monotonic()
        await running.kill("api-1")
        # New connections after the death: each goes through, whichever API the balancer offered it first.
        for _ in range(4):
            async with httpx.AsyncClient(base_url=deployed.balancer, timeout=30) as fresh:
                assert (await fresh.get("/readyz")).status_code == 200
        await within(
            WAIT_SECONDS, lambda: dialling_figures(owner, campaigns.dialling), lambda f: f["live"] > 0, "a call up"
        )
        worker_killed_at = time.monotonic()
        await running.kill(holder.name)
        await within(
            TAKEOVER_SECONDS + 10,
            lambda: lease_holder(owner, campaigns.dialling),
            lambda pid: pid == survivor.pid,
            f"the take-over\n{survivor.output()}",
        )
        assert time.monotonic() - worker_killed_at <= TAKEOVER_SECONDS
        dialled_at_takeover = (await dialling_figures(owner, campaigns.dialling))["calls"]
        await within(
            WAIT_SECONDS,
            lambda: dialling_figures(owner, campaigns.dialling),
            lambda f: f["calls"] >= dialled_at_takeover + 3,
            "dialling resumed by the survivor",
        )
    finally:
        stop.set()
        await load
    async with httpx.AsyncClient(base_url=deployed.balancer, timeout=30) as client:
        pause = f"/v1/campaigns/{campaigns.dialling}/pause"
        expect(await client.post(pause, headers=people.headers(people.supervisor)), 200)
    await within(
        WAIT_SECONDS, lambda: dialling_figures(owner, campaigns.dialling), lambda f: f["live"] == 0, "calls ended"
    )

    # The dialer's promises, and no contact dialled twice at all (the retry delay is an hour).
    broken = await invariants(owner, campaigns)
    assert broken == dict.fromkeys(broken, 0)
    assert not await owner.fetchval(
        "SELECT count(*) FROM (SELECT contact_id FROM calls WHERE campaign_id = $1 GROUP BY contact_id "
        "HAVING count(*) > 1) AS twice",
        campaigns.dialling,
    )
    # Every acknowledged upload is there in full; one cut by the kill is there in full or not at all.
    assert await missing_uploads(owner, campaigns, mix.tally) == {
        "acknowledged_contacts_missing": 0,
        "dropped_uploads_stored_in_part": 0,
    }
    # The balancer answered no 5xx and nothing else failed; connections were dropped only at the API's death,
    # at most the in-flight request and a request racing the close on each actor's connection.
    tally = mix.tally
    assert not tally.server_errors, tally.server_errors[:5]
    assert not tally.client_errors, tally.client_errors[:5]
    assert len(tally.dropped) <= 2 * (AGENTS + 2), tally.dropped
    assert all(api_killed_at <= dropped.at <= api_killed_at + AROUND_THE_KILL_SECONDS for dropped in tally.dropped), (
        tally.dropped
    )
    assert tally.statuses[200] > 20 * AGENTS

    statuses = await running.stop()
    survivors = {name: status for name, status in statuses.items() if name not in ("api-1", holder.name)}
    assert survivors == dict.fromkeys(["proxy", survivor.name, "api-2", "sim"], 0), deployed.logs()
    # The balancer offered some of the new connections to the dead API first, and moved them on.
    assert '"refused_connects": 0' not in running["proxy"].output(), running["proxy"].output()
