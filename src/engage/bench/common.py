"""What the benchmarks share: the app on a loopback server, a tenant with its rate limit lifted, load loops and
percentiles."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import uvicorn

from engage.config import Settings
from engage.core.db import unscoped_transaction
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.tenancy import service as tenancy
from engage.tenancy.models import Tenant

# High enough that the benchmark measures the server, not the limiter's refusals.
UNLIMITED = 1_000_000_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@asynccontextmanager
async def serving(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    """The app on a real uvicorn server on a loopback port, for as long as the block runs: its base URL."""
    port = free_port()
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def unlimited_tenant(runtime: Runtime) -> Tenant:
    """A tenant in AE whose rate limit is lifted, so a benchmark measures the server, not the limiter."""
    async with unscoped_transaction(runtime.sessions) as session:
        return await tenancy.create(
            session,
            name="bench",
            timezone="Asia/Dubai",
            country="AE",
            rate_limit_per_minute=UNLIMITED,
            clock=runtime.clock,
        )


def load_figures(latencies: list[float], errors: int, seconds: float, concurrency: int) -> dict[str, object]:
    """What a load run against one endpoint reports: volume, throughput and latency percentiles."""
    return {
        "seconds": seconds,
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_second": round(len(latencies) / seconds, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 2),
            "p90": round(percentile(latencies, 0.90), 2),
            "p99": round(percentile(latencies, 0.99), 2),
        },
    }


async def hammer(
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
