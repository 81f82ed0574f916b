"""`api`: the request path under load, beside a thin reference endpoint, in one run (issue 12).

The API runs as `engage api` in a process of its own, as `make run` serves it (same settings, same middleware);
the reference endpoint (`reference.py`: JWT check, one tenant-scoped query on a pooled asyncpg connection in a
transaction, JSON out) in another; the load comes from a third (`wrk -t2 -c16 --latency` where installed, else
`python -m engage.bench.load`). All on loopback, each run bounded by `--seconds`, after a one-second warm-up.

The tenant (rate limit lifted) holds 25 campaigns, 40 agents and 200 calls. Phase one measures the reference
and `GET /v1/campaigns?limit=20` with no contacts; then `--contacts` contacts (default 1,000,000) are loaded with
`COPY`, and phase two measures every endpoint. Each endpoint is measured in `--rounds` pairs (default 3), a run
of the reference then one of the endpoint, and the pair with the median ratio is printed with the ratio of every
round (figures on a shared machine drift within a run; the phase's first reference is printed too). The API's
clock is set on a working morning in Dubai so every compliance check runs in full (it appends to the audit log,
which refuses deletes: run against a scratch database). Prints JSON; the table goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import httpx

from engage.bench.common import free_port
from engage.bench.load import Load, Shot, drive
from engage.bench.people import (
    BenchDb,
    bench_db,
    bench_tenant,
    contact_records,
    copy_contacts,
    drop_bench_tenant_contacts,
    make_people,
    vacuum_contacts,
)
from engage.calls.models import Call
from engage.config import Settings
from engage.core.clock import ShiftedClock
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.principal import Role
from engage.users import service as users
from engage.users.schemas import UserCreate

_CAMPAIGNS = 25
_AGENTS = 40
_CALLS = 200
_DEFAULT_CONTACTS = 1_000_000
_LOAD_CHUNK = 50_000
_CONNECTIONS = 16
_DEFAULT_ROUNDS = 3
_WARM_UP_SECONDS = 1.0
# Sunday 29 November 2026, 10:00 in Dubai: inside AE's calling hours, so a compliance check runs every rule.
_OPEN_HOURS = "2026-11-29T06:00:00Z"


@dataclass(frozen=True, slots=True)
class _Seeded:
    tenant_id: uuid.UUID
    campaign_ids: list[uuid.UUID]
    email: str
    password: str


async def _seed(db: BenchDb) -> _Seeded:
    # On the API's clock, an hour before it starts: the users' `sessions_revoked_at` (their creation) then comes
    # before any token the API issues, as it would in production.
    db = replace(db, clock=ShiftedClock(datetime.fromisoformat(_OPEN_HOURS) - timedelta(hours=1)))
    tenant_id, campaign_ids = await bench_tenant(db, _CAMPAIGNS)
    password = secrets.token_urlsafe(16)
    email = f"bench-{secrets.token_hex(6)}@bench.engage.local"
    async with tenant_transaction(db.sessions, tenant_id) as session:
        await users.create_user(
            session, tenant_id, UserCreate(email=email, password=password, full_name="Bench Admin", role=Role.admin),
            clock=db.clock,
        )  # fmt: skip
        agents = [
            await users.create_user(
                session,
                tenant_id,
                UserCreate(email=f"{n}-{email}", password=password, full_name=f"Agent {n}", role=Role.agent),
                clock=db.clock,
            )
            for n in range(_AGENTS)
        ]
        now = db.clock.now()
        for n in range(_CALLS):
            started = now - timedelta(minutes=n)
            session.add(
                Call(
                    id=new_id(), tenant_id=tenant_id, campaign_id=campaign_ids[n % _CAMPAIGNS],
                    agent_id=agents[n % _AGENTS].id, contact_phone=f"+97150{n:07d}", origin="dialer",
                    status="completed" if n >= 10 else "bridged", started_at=started,
                    answered_at=started + timedelta(seconds=8),
                    ended_at=None if n < 10 else started + timedelta(seconds=90),
                )
            )  # fmt: skip
    return _Seeded(tenant_id, campaign_ids, email, password)


async def _load_contacts(db: BenchDb, seeded: _Seeded, count: int) -> float:
    started = time.perf_counter()
    people = make_people(Random(20261206), count)  # noqa: S311 - benchmark data, not secrets
    now = db.clock.now()
    for start in range(0, count, _LOAD_CHUNK):
        chunk = people[start : start + _LOAD_CHUNK]
        campaign = seeded.campaign_ids[start * len(seeded.campaign_ids) // count]
        await copy_contacts(db.owner, contact_records(chunk, seeded.tenant_id, campaign, now))
    await vacuum_contacts(db.owner)
    return time.perf_counter() - started


async def _until_answering(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(timeout=2.0) as client:
        for _ in range(600):  # up to 60 s: the API migrates and warms its pool first
            if process.returncode is not None:
                raise RuntimeError(f"{url} exited with {process.returncode} before answering")
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within 60 s")


@asynccontextmanager
async def _process(url: str, *argv: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await _until_answering(url, process)
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()


def _row(
    name: str, contacts: int, load: Load, reference: Load | None, ratios: list[float] | None = None
) -> dict[str, object]:
    return {
        "endpoint": name,
        "contacts_in_tenant": contacts,
        "requests_per_second": round(load.requests_per_second, 1),
        "p50_ms": round(load.p50_ms, 2),
        "p99_ms": round(load.p99_ms, 2),
        "requests": load.requests,
        "errors": load.errors,
        # The reference run paired with this one (see `_paired`): figures on a shared machine drift within a run.
        "reference_requests_per_second": None if reference is None else round(reference.requests_per_second, 1),
        "ratio_to_reference": None
        if reference is None
        else round(load.requests_per_second / reference.requests_per_second, 2),
        "ratios_per_round": None if ratios is None else [round(ratio, 2) for ratio in ratios],
    }


async def _measure(shot: Shot, seconds: float, connections: int) -> Load:
    await drive(shot, seconds=_WARM_UP_SECONDS, connections=connections)
    return await drive(shot, seconds=seconds, connections=connections)


@dataclass(frozen=True, slots=True)
class _Pair:
    reference: Load
    endpoint: Load
    ratios: list[float]


async def _paired(reference: Shot, shot: Shot, seconds: float, connections: int, rounds: int) -> _Pair:
    """`rounds` runs of the reference, each followed at once by a run of `shot`; the round whose ratio is the
    median. One pair swung by ±0.15 between runs of the same code on this 2-core machine: a median of three
    pairs is what a change has to beat."""
    pairs = []
    for _ in range(rounds):
        baseline = await _measure(reference, seconds, connections)
        pairs.append((baseline, await _measure(shot, seconds, connections)))
    ratios = [own.requests_per_second / max(baseline.requests_per_second, 1e-9) for baseline, own in pairs]
    middle = sorted(range(len(pairs)), key=ratios.__getitem__)[len(pairs) // 2]
    return _Pair(reference=pairs[middle][0], endpoint=pairs[middle][1], ratios=ratios)


async def _bench_api(
    settings: Settings, seconds: float, connections: int, contacts: int, rounds: int
) -> dict[str, object]:
    async with bench_db(settings) as db:
        url = db.database_url
        seeded = await _seed(db)
        secret = secrets.token_urlsafe(48)
        api_port, reference_port = free_port(), free_port()
        env = {
            **os.environ,
            "ENGAGE_DATABASE_URL": url,
            "ENGAGE_JWT_SECRET": secret,
            "ENGAGE_SIM_CLOCK_START": _OPEN_HOURS,
        }
        api, reference = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{reference_port}"
        engage = (str(Path(sys.executable).with_name("engage")), "api", "--host", "127.0.0.1", "--port", str(api_port))
        thin = (sys.executable, "-m", "engage.bench.reference", str(reference_port), url, secret, _OPEN_HOURS)
        rows: list[dict[str, object]] = []
        try:
            async with (
                _process(f"{api}/healthz", *engage, env=env),
                _process(f"{reference}/reference/campaigns", *thin, env=env),
                httpx.AsyncClient(base_url=api, timeout=10.0) as client,
            ):
                login = await client.post("/v1/auth/login", json={"email": seeded.email, "password": seeded.password})
                login.raise_for_status()
                auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

                def get(path: str) -> Shot:
                    return Shot("GET", f"{api}{path}", auth)

                def post(path: str, body: dict[str, object]) -> Shot:
                    return Shot("POST", f"{api}{path}", auth, json.dumps(body))

                listing = get("/v1/campaigns?limit=20")
                thin_listing = Shot("GET", f"{reference}/reference/campaigns?limit=20", auth)
                pair = await _paired(thin_listing, listing, seconds, connections, rounds)
                rows.append(_row("reference GET /reference/campaigns?limit=20", 0, pair.reference, None))
                rows.append(_row("GET /v1/campaigns?limit=20", 0, pair.endpoint, pair.reference, pair.ratios))

                load_seconds = await _load_contacts(db, seeded, contacts)
                campaign_id = str(seeded.campaign_ids[0])
                first = True
                for name, shot in (
                    ("GET /v1/campaigns?limit=20", listing),
                    ("GET /v1/agents/state", get("/v1/agents/state")),
                    ("GET /v1/calls/active-count", get("/v1/calls/active-count")),
                    ("GET /v1/calls?limit=50", get("/v1/calls?limit=50")),
                    ("POST /v1/contacts/search", post("/v1/contacts/search", {"q": "Ahmed", "limit": 20})),
                    (
                        "POST /v1/compliance/check",
                        post("/v1/compliance/check", {"phone": "+971501234567", "campaign_id": campaign_id}),
                    ),
                ):
                    pair = await _paired(thin_listing, shot, seconds, connections, rounds)
                    if first:
                        rows.append(_row("reference GET /reference/campaigns?limit=20", contacts, pair.reference, None))
                        first = False
                    rows.append(_row(name, contacts, pair.endpoint, pair.reference, pair.ratios))
        finally:
            await drop_bench_tenant_contacts(db, seeded.tenant_id)
    return {
        "benchmark": "api",
        "seconds": seconds,
        "connections": connections,
        "rounds": rounds,
        "load_tool": "wrk" if shutil.which("wrk") else "python",
        "contacts_loaded_in_seconds": round(load_seconds, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "endpoints": rows,
    }


def _table(figures: dict[str, object]) -> str:
    lines = [
        f"{'endpoint':<48} {'contacts':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ref req/s':>9} {'ratio':>6} "
        f"{'errors':>6}"
    ]
    for row in figures["endpoints"]:  # type: ignore[attr-defined]
        ratio = "" if row["ratio_to_reference"] is None else f"{row['ratio_to_reference']:.2f}"
        measured = row["reference_requests_per_second"]
        reference = "" if measured is None else f"{measured:,.1f}"
        lines.append(
            f"{row['endpoint']:<48} {row['contacts_in_tenant']:>9,} {row['requests_per_second']:>9,.1f} "
            f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {reference:>9} {ratio:>6} {row['errors']:>6}"
        )
    return "\n".join(lines)


def bench_api(args: argparse.Namespace, settings: Settings) -> int:
    contacts = _DEFAULT_CONTACTS if args.contacts is None else args.contacts
    rounds = _DEFAULT_ROUNDS if args.rounds is None else max(1, args.rounds)
    figures = asyncio.run(_bench_api(settings, args.seconds, args.concurrency or _CONNECTIONS, contacts, rounds))
    print(_table(figures), file=sys.stderr)
    print(json.dumps(figures, indent=2))
    return 0
