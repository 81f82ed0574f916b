"""`engage bench <what>`: benchmarks are programs that print figures, never timed tests.

`api`: a real uvicorn server on a loopback port and concurrent httpx clients doing what a wallboard or
CRM does most (authenticated, tenant-scoped, paginated reads). It creates its own tenant (rate limit
lifted) and prints throughput and latency percentiles as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
import uvicorn

from engage.config import Settings
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.principal import Role
from engage.main import create_app, start_runtime
from engage.tenancy import service as tenancy
from engage.users import service as users
from engage.users.schemas import UserCreate

# High enough that the benchmark measures the server, not the limiter's refusals.
_UNLIMITED = 1_000_000_000
# One full page of the listed endpoint (limit=20); each user costs a production-strength argon2 hash.
_LISTED_USERS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _bench_api(settings: Settings, seconds: float, concurrency: int) -> dict[str, object]:
    settings = settings.model_copy(update={"demo": True})
    async with start_runtime(settings, stop_embedded=False) as runtime:
        password = secrets.token_urlsafe(16)
        email = f"bench-{secrets.token_hex(6)}@bench.engage.local"
        async with unscoped_transaction(runtime.sessions) as session:
            tenant = await tenancy.create(
                session,
                name="bench",
                timezone="Asia/Dubai",
                country="AE",
                rate_limit_per_minute=_UNLIMITED,
                clock=runtime.clock,
            )
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            for n in range(_LISTED_USERS):
                await users.create_user(
                    session,
                    tenant.id,
                    UserCreate(email=f"{n}-{email}", password=password, full_name=f"Agent {n}", role=Role.agent),
                    clock=runtime.clock,
                )
            await users.create_user(
                session,
                tenant.id,
                UserCreate(email=email, password=password, full_name="Bench Admin", role=Role.admin),
                clock=runtime.clock,
            )
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, runtime=runtime),
                host="127.0.0.1",
                port=port,
                log_config=None,
                access_log=False,
                log_level="warning",
            )
        )
        serving = asyncio.create_task(server.serve())
        try:
            for _ in range(200):  # up to 10 s for uvicorn to bind
                if server.started:
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the benchmark server did not start")
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=10.0) as client:
                login_ms: list[float] = []
                for _ in range(10):
                    started = time.perf_counter()
                    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
                    login_ms.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                token = response.json()["access_token"]
                latencies, errors = await _hammer(
                    lambda: client.get("/v1/users?limit=20", headers={"Authorization": f"Bearer {token}"}),
                    seconds,
                    concurrency,
                )
        finally:
            server.should_exit = True
            await serving
    return {
        "benchmark": "api",
        "endpoint": "GET /v1/users?limit=20",
        "seconds": seconds,
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_second": round(len(latencies) / seconds, 1),
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.50), 2),
            "p90": round(_percentile(latencies, 0.90), 2),
            "p99": round(_percentile(latencies, 0.99), 2),
        },
        "login_ms_median": round(statistics.median(login_ms), 1),
    }


async def _hammer(
    request: Callable[[], Awaitable[httpx.Response]], seconds: float, concurrency: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await request()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def bench_api(args: argparse.Namespace, settings: Settings) -> int:
    figures = asyncio.run(_bench_api(settings, args.seconds, args.concurrency))
    print(json.dumps(figures, indent=2))
    return 0


BENCHMARKS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {"api": bench_api}
