"""`engage bench soak [--minutes 60] [--agents 100]`: the production topology (`topology.PRODUCTION`, the block
docs/operations.md shows: two `engage api` behind the loopback proxy, two `engage worker`, `engage sim`, Redis,
one PostgreSQL) dialling a predictive campaign for `--minutes` with `--agents` agents, under the API mix
(`mix.py`: agents polling their desks, a supervisor's wallboard, CRM searches and uploads).

Every minute it prints one line: the elapsed time, each process's RSS and open file descriptors (with its
children), PostgreSQL connections to the scratch database, Redis' connected clients, the requests of that minute
by status and the dropped connections, the calls made, bridged and live, and the abandon rate. At the end (the
campaign paused and its calls drained) a summary in JSON: growth, last third of the run against the first, and
the dialer's invariants. It exits 1 when a request got a 5xx or a dropped connection, an invariant broke, the
abandon rate passed the campaign's target (3 %), a process did not stop cleanly, or memory, file descriptors or
connections grew past the tolerances below: a leak grows with time, a warming cache or pool settles within the
first third.

The callees are the simulator's (`ENGAGE_SIM_*`, as set in this environment; by default 35 % answer, ringing
2-8 s and talking 20-120 s). The workers run on the real clock, so the numbers belong to a country inside its
calling hours for the whole run (`floor.callable_numbers`). It writes to a scratch database it creates beside the
one `ENGAGE_DATABASE_URL` names (default: the server on 127.0.0.1:5432) and drops at the end, unless `--keep`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from engage.bench.floor import callable_numbers, expect, open_floor, seed_people
from engage.bench.mix import Mix, Tally, dialling_figures, invariants, missing_uploads
from engage.bench.topology import PRODUCTION, Running, free_port_values, launch, owner_dsn, sample
from engage.config import Settings
from engage.core.db import create_database_if_missing, drop_database, with_database

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
SAMPLE_SECONDS = 60.0
# Contacts per agent per minute of the run: a predictive campaign at the simulator's defaults places about one
# call per agent every 30 s, and a contact that rings out comes back after the retry delay; three keeps the
# campaign from running dry.
CONTACTS_PER_AGENT_MINUTE = 3
MIN_CONTACTS = 1000
RETRY_DELAY_MINUTES = 10
MAX_ATTEMPTS = 3
WRAP_UP_SECONDS = 10
# The campaign's abandon-rate target (the default, 3 %): above it, callees were left in silence.
ABANDON_RATE_TARGET_PERCENT = 3.0
# An agent's desk polls this often: 100 agents make about 70 requests a second, besides the wallboard and the CRM.
AGENT_POLL_SECONDS = 3.0
# After the pause, the calls still up end by themselves: a ring-out (30 s) or the longest talk (120 s by default).
DRAIN_SECONDS = 300.0
# Tolerated growth, last third of the run against the first. Memory: an allocator keeps some of what a burst
# took, and caches fill; 20 % (at least 20 MiB) is above what a steady process shows and far below a leak over an
# hour. File descriptors and connections: pools may open a few more under a burst, never without bound.
RSS_GROWTH_FRACTION = 0.20
RSS_GROWTH_FLOOR_BYTES = 20 * 1024 * 1024
FDS_GROWTH = 10
CONNECTIONS_GROWTH = 5
_MIB = 1024 * 1024


@dataclass
class Reading:
    elapsed_seconds: float
    rss: dict[str, int]
    fds: dict[str, int]
    cpu_percent: dict[str, float]  # of one core, over the minute
    pg_connections: int
    redis_clients: int
    requests: Counter[int]
    dropped: int
    dialling: dict[str, float | int]


@dataclass
class _Run:
    running: Running
    owner: asyncpg.Connection
    redis: Redis
    database: str
    tally: Tally
    campaign_id: Any
    started: float
    readings: list[Reading] = field(default_factory=list)
    _last: Counter[int] = field(default_factory=Counter)
    _last_dropped: int = 0
    _last_cpu: dict[str, tuple[float, float]] = field(default_factory=dict)  # name: (monotonic, cpu seconds)

    def prime(self) -> None:
        """CPU time so far, so the first minute's figure counts that minute alone, not the start-up."""
        now = time.monotonic()
        for launched in self.running.services():
            measured = sample(launched.pid)
            self._last_cpu[launched.name] = (now, measured.cpu_seconds if measured else 0.0)

    async def read(self, elapsed: float) -> Reading:
        rss: dict[str, int] = {}
        fds: dict[str, int] = {}
        cpu: dict[str, float] = {}
        now = time.monotonic()
        for launched in self.running.services():
            measured = sample(launched.pid) if launched.running else None
            rss[launched.name] = measured.rss_bytes if measured else 0
            fds[launched.name] = measured.open_files if measured else 0
            used = measured.cpu_seconds if measured else 0.0
            since, before = self._last_cpu.get(launched.name, (self.started, 0.0))
            cpu[launched.name] = round(100 * (used - before) / max(now - since, 1e-9), 1)
            self._last_cpu[launched.name] = (now, used)
        pg = await self.owner.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", self.database
        )
        clients = (await self.redis.info("clients"))["connected_clients"]
        statuses = Counter(self.tally.statuses)
        reading = Reading(
            elapsed_seconds=elapsed,
            rss=rss,
            fds=fds,
            cpu_percent=cpu,
            pg_connections=int(pg),
            redis_clients=int(clients),
            requests=statuses - self._last,
            dropped=len(self.tally.dropped) - self._last_dropped,
            dialling=await dialling_figures(self.owner, self.campaign_id),
        )
        self._last, self._last_dropped = statuses, len(self.tally.dropped)
        self.readings.append(reading)
        return reading


def line(reading: Reading) -> str:
    minutes, seconds = divmod(round(reading.elapsed_seconds), 60)
    rss = " ".join(f"{name} {value / _MIB:.0f}" for name, value in reading.rss.items())
    fds = "/".join(str(value) for value in reading.fds.values())
    cpu = "/".join(f"{value:.0f}" for value in reading.cpu_percent.values())
    by_status = " ".join(f"{status}:{count}" for status, count in sorted(reading.requests.items()))
    errors = sum(count for status, count in reading.requests.items() if status >= 500)
    d = reading.dialling
    return (
        f"{minutes:3d}:{seconds:02d}  rss MiB {rss} | cpu% {cpu} | fds {fds} | pg {reading.pg_connections} "
        f"redis {reading.redis_clients} | requests {sum(reading.requests.values())} {by_status or '-'} "
        f"5xx {errors} dropped {reading.dropped} | calls {d['calls']} bridged {d['bridged']} live {d['live']} "
        f"| abandon {d['abandon_rate_percent']}%"
    )


def _mean(values: list[int]) -> float:
    return sum(values) / len(values)


def growth(readings: list[Reading]) -> dict[str, dict[str, Any]]:
    """Per metric: the first third's and last third's mean (memory) or peak (counts), and whether the growth is
    within its tolerance."""
    third = max(1, len(readings) // 3)
    first, last = readings[:third], readings[-third:]
    report: dict[str, dict[str, Any]] = {}
    for name in readings[0].rss:
        before, after = _mean([r.rss[name] for r in first]), _mean([r.rss[name] for r in last])
        allowed = max(before * RSS_GROWTH_FRACTION, RSS_GROWTH_FLOOR_BYTES)
        report[f"rss_mib.{name}"] = {
            "first_third": round(before / _MIB, 1),
            "last_third": round(after / _MIB, 1),
            "within_tolerance": after - before <= allowed,
        }
        fds_before, fds_after = max(r.fds[name] for r in first), max(r.fds[name] for r in last)
        report[f"open_files.{name}"] = {
            "first_third": fds_before,
            "last_third": fds_after,
            "within_tolerance": fds_after - fds_before <= FDS_GROWTH,
        }
    for metric in ("pg_connections", "redis_clients"):
        before_peak = max(getattr(r, metric) for r in first)
        after_peak = max(getattr(r, metric) for r in last)
        report[metric] = {
            "first_third": before_peak,
            "last_third": after_peak,
            "within_tolerance": after_peak - before_peak <= CONNECTIONS_GROWTH,
        }
    return report


def _forwarded_simulator_settings() -> dict[str, str]:
    """The callee behaviour asked for in this environment (`ENGAGE_SIM_*`), for the simulator process; its clock
    is never forwarded (a worker on a switch runs on the real clock)."""
    return {
        key: value
        for key, value in os.environ.items()
        if key.startswith("ENGAGE_SIM_") and key != "ENGAGE_SIM_CLOCK_START"
    }


def _error_lines(running: Running) -> dict[str, int]:
    """Log lines at level error or above, per process (the processes log at WARNING during a soak)."""
    counts = {}
    for launched in running.services():
        text = launched.log.read_text(errors="replace")
        counts[launched.name] = sum(
            1 for row in text.splitlines() if '"level": "error"' in row or '"level": "critical"' in row
        )
    return counts


async def _drain(owner: asyncpg.Connection, campaign_id: Any) -> bool:
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        if not (await dialling_figures(owner, campaign_id))["live"]:
            return True
        await asyncio.sleep(1.0)
    return False


async def _soak(settings: Settings, *, minutes: float, agents: int, keep: bool) -> tuple[dict[str, Any], bool]:
    server = settings.database.url or LOCAL_SERVER
    redis_url = settings.redis.url or LOCAL_REDIS
    database = f"engage_soak_{secrets.token_hex(4)}"
    await create_database_if_missing(server, database)
    url = with_database(server, database)
    folder = Path(tempfile.mkdtemp(prefix="engage-soak-"))
    ports = free_port_values("ESL_PORT", "API_PORT_1", "API_PORT_2", "PROXY_PORT")
    values = {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "PUBLIC_URL": f"http://127.0.0.1:{ports['PROXY_PORT']}",
        "DATA_DIR": str(folder / "data"),
        "ESL_HOST": "127.0.0.1",
        "ESL_PASSWORD": secrets.token_urlsafe(16),
        "API_HOST": "127.0.0.1",
        "PROXY_HOST": "127.0.0.1",
        **ports,
    }
    extra = {"ENGAGE_LOG_LEVEL": "WARNING", **_forwarded_simulator_settings()}
    ok = False
    print(f"soak: {minutes:g} min, {agents} agents; database {database}; logs in {folder / 'logs'}", flush=True)
    try:
        launched_at = time.monotonic()
        async with launch(PRODUCTION, values, logs=folder / "logs", extra_environment=extra) as running:
            print(f"soak: {len(running.services())} processes up in {time.monotonic() - launched_at:.0f} s", flush=True)
            summary, ok = await _run(running, values, url, database, minutes=minutes, agents=agents)
            summary["exit_statuses"] = await running.stop()
            summary["log_error_lines"] = _error_lines(running)
            clean = all(status == 0 for status in summary["exit_statuses"].values())
            ok = ok and clean
            summary["ok"] = ok
            return summary, ok
    finally:
        if not keep:
            await drop_database(server, database)
            if ok:
                shutil.rmtree(folder, ignore_errors=True)


async def _run(
    running: Running, values: dict[str, str], url: str, database: str, *, minutes: float, agents: int
) -> tuple[dict[str, Any], bool]:
    base_url = f"http://{values['PROXY_HOST']}:{values['PROXY_PORT']}"
    contacts = max(MIN_CONTACTS, math.ceil(agents * minutes * CONTACTS_PER_AGENT_MINUTE))
    phones = callable_numbers(contacts, datetime.now(UTC), timedelta(minutes=minutes + 15))
    people = await seed_people(url, name="Soak", agents=agents, rate_limit_per_minute=1_000_000_000)
    campaigns = await open_floor(
        base_url,
        people,
        phones=phones,
        dialing_mode="predictive",
        max_attempts=MAX_ATTEMPTS,
        retry_delay_minutes=RETRY_DELAY_MINUTES,
        wrap_up_seconds=WRAP_UP_SECONDS,
        esl=(values["ESL_HOST"], int(values["ESL_PORT"]), values["ESL_PASSWORD"]),
    )
    print(f"soak: floor open, {agents} agents, {contacts} contacts of {phones[0][:-6]}…; dialling", flush=True)
    owner = await asyncpg.connect(owner_dsn(url), timeout=10)
    redis = Redis.from_url(values["REDIS_URL"], socket_timeout=5)
    mix = Mix(base_url, people, campaigns, agent_poll_seconds=AGENT_POLL_SECONDS)
    started = time.monotonic()
    run = _Run(running, owner, redis, database, mix.tally, campaigns.dialling, started)
    run.prime()
    stop = asyncio.Event()
    try:
        load = asyncio.create_task(mix.run(stop))
        for n in range(1, math.ceil(minutes * 60 / SAMPLE_SECONDS) + 1):
            due = started + min(n * SAMPLE_SECONDS, minutes * 60)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if load.done():
                break
            print(line(await run.read(time.monotonic() - started)), flush=True)
        stop.set()
        await load
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            pause = f"/v1/campaigns/{campaigns.dialling}/pause"
            expect(await client.post(pause, headers=people.headers(people.admin)), 200)
        print("soak: campaign paused, waiting for the calls still up to end", flush=True)
        drained = await _drain(owner, campaigns.dialling)
        broken = await invariants(owner, campaigns)
        uploads = await missing_uploads(owner, campaigns, mix.tally)
        figures = await dialling_figures(owner, campaigns.dialling)
    finally:
        stop.set()
        await redis.aclose()
        await owner.close()
    grown = growth(run.readings) if run.readings else {}
    server_errors = sum(count for status, count in mix.tally.statuses.items() if status >= 500)
    ok = (
        drained
        and server_errors == 0
        and not mix.tally.dropped
        and not any(broken.values())
        and not any(uploads.values())
        and all(entry["within_tolerance"] for entry in grown.values())
        and float(figures["abandon_rate_percent"]) <= ABANDON_RATE_TARGET_PERCENT
    )
    summary: dict[str, Any] = {
        "minutes": minutes,
        "agents": agents,
        "contacts": contacts,
        "requests": mix.tally.snapshot(),
        "server_errors": server_errors,
        "first_server_errors": [entry[1:] for entry in mix.tally.server_errors[:5]],
        "first_dropped_connections": [d.request + ": " + d.error for d in mix.tally.dropped[:5]],
        "dialling": figures,
        "abandon_rate_target_percent": ABANDON_RATE_TARGET_PERCENT,
        "calls_drained_after_pause": drained,
        "invariants": broken,
        "uploads": uploads,
        "growth_last_third_vs_first": grown,
        "tolerances": {
            "rss": f"+{RSS_GROWTH_FRACTION:.0%} (>= {RSS_GROWTH_FLOOR_BYTES // _MIB} MiB) of the first third's mean",
            "open_files": f"+{FDS_GROWTH} over the first third's peak",
            "pg_connections_and_redis_clients": f"+{CONNECTIONS_GROWTH} over the first third's peak",
        },
    }
    return summary, ok


def bench_soak(args: argparse.Namespace, settings: Settings) -> int:
    # One log line per request of the mix would bury the figures.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        summary, ok = asyncio.run(_soak(settings, minutes=args.minutes, agents=args.agents, keep=args.keep))
        print(json.dumps(summary, indent=2))
        return 0 if ok else 1
    return 130
