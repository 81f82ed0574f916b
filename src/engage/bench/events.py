"""`events`: the live event stream's fan-out. The app on a loopback server (its hub LISTENing on PostgreSQL), and
`--concurrency` supervisors' streams (50 by default) held open by a process of its own (httpx), as wallboards
would. Events are recorded at 50 a second, one transaction each, for `--seconds`; each stream must receive every
one of them, once. Printed: deliveries expected and received, lost and duplicated, and the time from each event's
commit to its arrival on each stream (p50, p99, max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
import uuid
from datetime import timedelta

import httpx
from pydantic import SecretStr

from engage.bench.common import percentile, serving, unlimited_tenant
from engage.config import Settings
from engage.core.clock import ShiftedClock
from engage.core.db import tenant_transaction
from engage.core.outbox import record_event
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.main import start_runtime
from engage.users import service as users
from engage.users.schemas import UserCreate

_STREAMS = 50
_EVENTS_PER_SECOND = 50
_DRAIN_SECONDS = 5.0

# The streams' process, run with `python -c`: opens N streams, says "ready" once each has its `: connected` comment,
# notes when each event id arrives on each stream, and prints {stream: {event id: [arrival, ...]}} when its stdin
# closes.
_SUBSCRIBERS = r"""
import asyncio, json, sys, time
import httpx
url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
arrivals = [{} for _ in range(count)]
async def follow(client, n, connected):
    async with client.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith(": connected"):
                connected.set()
            elif line.startswith("id: "):
                arrivals[n].setdefault(line[4:], []).append(time.time())
async def main():
    limits = httpx.Limits(max_connections=count + 1)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), limits=limits) as client:
        connected = [asyncio.Event() for _ in range(count)]
        tasks = [asyncio.create_task(follow(client, n, connected[n])) for n in range(count)]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in connected)), 30)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(arrivals), flush=True)
asyncio.run(main())
"""


async def _supervisor_token(runtime: Runtime, tenant_id: uuid.UUID, base_url: str) -> str:
    password = secrets.token_urlsafe(16)
    email = f"bench-{secrets.token_hex(6)}@bench.engage.local"
    # Made an hour back on the clock: its sessions must start after its creation, to the second.
    made = ShiftedClock(runtime.clock.now() - timedelta(hours=1))
    async with tenant_transaction(runtime.sessions, tenant_id) as session:
        await users.create_user(
            session,
            tenant_id,
            UserCreate(email=email, password=password, full_name="Bench Supervisor", role=Role.supervisor),
            clock=made,
        )
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        login = await client.post("/v1/auth/login", json={"email": email, "password": password})
        login.raise_for_status()
        token: str = login.json()["access_token"]
        return token


async def _record(runtime: Runtime, tenant_id: uuid.UUID, seconds: float) -> dict[str, float]:
    """One event a transaction, `_EVENTS_PER_SECOND` a second for `seconds`: each id with its commit time."""
    committed: dict[str, float] = {}
    started = time.monotonic()
    for n in range(int(seconds * _EVENTS_PER_SECOND)):
        # On a schedule, not a sleep after each: the rate holds whatever a transaction takes.
        await asyncio.sleep(max(0.0, started + n / _EVENTS_PER_SECOND - time.monotonic()))
        async with tenant_transaction(runtime.sessions, tenant_id) as session:
            event = await record_event(session, tenant_id, "call.completed", {"n": n}, clock=runtime.clock)
        committed[str(event.id)] = time.time()
    return committed


async def _bench_events(settings: Settings, seconds: float, streams: int) -> dict[str, object]:
    if settings.jwt.secret is None:
        # The benchmark's tokens never leave this machine's loopback: a secret of its own when none is set.
        jwt = settings.jwt.model_copy(update={"secret": SecretStr(secrets.token_urlsafe(48))})
        settings = settings.model_copy(update={"jwt": jwt})
    async with start_runtime(settings, stop_embedded=False) as runtime, serving(settings, runtime) as base_url:
        tenant = await unlimited_tenant(runtime)
        token = await _supervisor_token(runtime, tenant.id, base_url)
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _SUBSCRIBERS,
            f"{base_url}/v1/events/stream",
            token,
            str(streams),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**28,
        )
        try:
            if child.stdin is None or child.stdout is None:
                raise RuntimeError("the streams' process has no pipes")
            if (await asyncio.wait_for(child.stdout.readline(), 40)).strip() != b"ready":
                raise RuntimeError("the streams did not open")
            committed = await _record(runtime, tenant.id, seconds)
            await asyncio.sleep(_DRAIN_SECONDS)
            child.stdin.close()
            arrivals: list[dict[str, list[float]]] = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
        finally:
            if child.returncode is None:
                child.kill()
            await child.wait()
    latencies = [
        (at - committed[event_id]) * 1000
        for stream in arrivals
        for event_id, times in stream.items()
        if event_id in committed
        for at in times[:1]
    ]
    received = sum(1 for stream in arrivals for event_id in stream if event_id in committed)
    return {
        "benchmark": "events",
        "streams": streams,
        "events": len(committed),
        "events_per_second": _EVENTS_PER_SECOND,
        "deliveries_expected": streams * len(committed),
        "deliveries_received": received,
        "lost": streams * len(committed) - received,
        "duplicated": sum(len(times) - 1 for stream in arrivals for times in stream.values()),
        "latency_ms_p50": round(percentile(latencies, 0.50), 1) if latencies else None,
        "latency_ms_p99": round(percentile(latencies, 0.99), 1) if latencies else None,
        "latency_ms_max": round(max(latencies), 1) if latencies else None,
    }


def bench_events(args: argparse.Namespace, settings: Settings) -> int:
    figures = asyncio.run(_bench_events(settings, args.seconds, args.concurrency or _STREAMS))
    print(json.dumps(figures, indent=2))
    return 0
