"""`api`: a real uvicorn server on a loopback port and concurrent httpx clients doing what a wallboard or
CRM does most (authenticated, tenant-scoped, paginated reads). It creates its own tenant (rate limit
lifted) and prints throughput and latency percentiles as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import time

import httpx

from engage.bench.common import hammer, load_figures, serving, unlimited_tenant
from engage.config import Settings
from engage.core.db import tenant_transaction
from engage.core.principal import Role
from engage.main import start_runtime
from engage.users import service as users
from engage.users.schemas import UserCreate

# One full page of the listed endpoint (limit=20); each user costs a production-strength argon2 hash.
_LISTED_USERS = 20


async def _bench_api(settings: Settings, seconds: float, concurrency: int) -> dict[str, object]:
    settings = settings.model_copy(update={"demo": True})
    async with start_runtime(settings, stop_embedded=False) as runtime:
        password = secrets.token_urlsafe(16)
        email = f"bench-{secrets.token_hex(6)}@bench.engage.local"
        tenant = await unlimited_tenant(runtime)
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
        async with serving(settings, runtime) as base, httpx.AsyncClient(base_url=base, timeout=10.0) as client:
            login_ms: list[float] = []
            for _ in range(10):
                started = time.perf_counter()
                response = await client.post("/v1/auth/login", json={"email": email, "password": password})
                login_ms.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            token = response.json()["access_token"]
            latencies, errors = await hammer(
                lambda: client.get("/v1/users?limit=20", headers={"Authorization": f"Bearer {token}"}),
                seconds,
                concurrency,
            )
    return {
        "benchmark": "api",
        "endpoint": "GET /v1/users?limit=20",
        **load_figures(latencies, errors, seconds, concurrency),
        "login_ms_median": round(statistics.median(login_ms), 1),
    }


def bench_api(args: argparse.Namespace, settings: Settings) -> int:
    figures = asyncio.run(_bench_api(settings, args.seconds, args.concurrency or 32))
    print(json.dumps(figures, indent=2))
    return 0
