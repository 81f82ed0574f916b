"""`webhooks`: a receiver in its own process (raw asyncio HTTP/1.1, keep-alive, answers 200 and notes when each
event id first arrived), one tenant with one subscription to it, and two dispatchers running concurrently (in
this process, sharing its connection pool). Throughput: 5,000 events recorded first (batches of 250), then the
time until every delivery has succeeded. Latency: events recorded at 250 a second for `--seconds` while the
dispatchers run; the time from each event's outbox commit to its first arrival at the receiver (p50/p99).
`--concurrency` is the per-subscription limit (default 4).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
import uuid

import httpx
from sqlalchemy import func, select

from engage.bench.common import free_port, percentile, unlimited_tenant
from engage.config import Settings, WebhookSettings
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.outbox import record_event
from engage.core.runtime import Runtime
from engage.main import start_runtime
from engage.webhooks.dispatcher import PER_SUBSCRIPTION_LIMIT, Dispatcher
from engage.webhooks.models import WebhookDelivery, WebhookSubscription

_WEBHOOK_EVENTS = 5_000
_WEBHOOK_RECORD_BATCH = 250
_WEBHOOK_DISPATCHERS = 2
# Latency phase: 25 events every 100 ms, a steady 250 a second, well under the measured capacity.
_WEBHOOK_TICK_EVENTS = 25
_WEBHOOK_TICK_SECONDS = 0.1

# The benchmark's receiver, run with `python -c` in a process of its own so that it does not share our event
# loop: it answers 200 to every POST and remembers when each event id first arrived; GET /first returns that.
_WEBHOOK_RECEIVER = r"""
import asyncio, json, sys, time
first = {}
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            await reader.readexactly(int(headers.get("content-length", "0")))
            if lines[0].startswith("GET /first"):
                body = json.dumps(first).encode()
            else:
                first.setdefault(headers.get("x-broadnet-event-id", ""), time.time())
                body = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


async def _record_webhook_events(runtime: Runtime, tenant_id: uuid.UUID, count: int) -> dict[str, float]:
    """`count` events in one transaction; each event id with the wall-clock time its transaction committed."""
    async with tenant_transaction(runtime.sessions, tenant_id) as session:
        events = [
            await record_event(session, tenant_id, "call.completed", {"n": n}, clock=runtime.clock)
            for n in range(count)
        ]
    committed_at = time.time()
    return {str(event.id): committed_at for event in events}


async def _succeeded_deliveries(runtime: Runtime, tenant_id: uuid.UUID) -> int:
    async with tenant_transaction(runtime.sessions, tenant_id) as session:
        counted = await session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "succeeded")
        )
        return int(counted or 0)


async def _until_succeeded(runtime: Runtime, tenant_id: uuid.UUID, count: int, timeout_seconds: float) -> None:
    async with asyncio.timeout(timeout_seconds):
        while await _succeeded_deliveries(runtime, tenant_id) < count:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.1)


async def _bench_webhooks(settings: Settings, seconds: float, lane_limit: int) -> dict[str, object]:
    settings = settings.model_copy(update={"webhook": WebhookSettings(allow_private_targets=True)})
    port = free_port()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WEBHOOK_RECEIVER, str(port), stdout=asyncio.subprocess.PIPE
    )
    try:
        if receiver.stdout is None:
            raise RuntimeError("the child process has no stdout pipe")
        await asyncio.wait_for(receiver.stdout.readline(), 10)
        async with start_runtime(settings, stop_embedded=False) as runtime:
            tenant = await unlimited_tenant(runtime)
            now = runtime.clock.now()
            async with tenant_transaction(runtime.sessions, tenant.id) as session:
                session.add(
                    WebhookSubscription(
                        id=new_id(),
                        tenant_id=tenant.id,
                        url=f"http://127.0.0.1:{port}/hooks",
                        events=["call.completed"],
                        description="bench",
                        secret=secrets.token_urlsafe(32),
                        previous_secret=None,
                        previous_secret_expires_at=None,
                        is_active=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
            committed: dict[str, float] = {}
            for _ in range(_WEBHOOK_EVENTS // _WEBHOOK_RECORD_BATCH):
                committed |= await _record_webhook_events(runtime, tenant.id, _WEBHOOK_RECORD_BATCH)

            stop = asyncio.Event()
            dispatchers = [
                Dispatcher(runtime.sessions, runtime.clock, allow_private=True, per_subscription_limit=lane_limit)
                for _ in range(_WEBHOOK_DISPATCHERS)
            ]
            started = time.perf_counter()
            running = [asyncio.create_task(d.run(stop, idle_seconds=0.2)) for d in dispatchers]
            try:
                await _until_succeeded(runtime, tenant.id, _WEBHOOK_EVENTS, timeout_seconds=600)
                throughput_seconds = time.perf_counter() - started

                steady: dict[str, float] = {}
                ticks = max(1, int(seconds / _WEBHOOK_TICK_SECONDS))
                for _ in range(ticks):
                    tick = time.perf_counter()
                    steady |= await _record_webhook_events(runtime, tenant.id, _WEBHOOK_TICK_EVENTS)
                    await asyncio.sleep(max(0.0, _WEBHOOK_TICK_SECONDS - (time.perf_counter() - tick)))
                await _until_succeeded(runtime, tenant.id, _WEBHOOK_EVENTS + len(steady), timeout_seconds=600)
            finally:
                stop.set()
                await asyncio.gather(*running)
                for dispatcher in dispatchers:
                    await dispatcher.aclose()
        async with httpx.AsyncClient(timeout=10.0) as client:
            first: dict[str, float] = (await client.get(f"http://127.0.0.1:{port}/first")).json()
    finally:
        receiver.terminate()
        await receiver.wait()
    latencies = [(first[event_id] - at) * 1000 for event_id, at in steady.items()]
    return {
        "benchmark": "webhooks",
        "dispatchers": _WEBHOOK_DISPATCHERS,
        "per_subscription_limit": lane_limit,
        "throughput": {
            "deliveries": _WEBHOOK_EVENTS,
            "seconds": round(throughput_seconds, 2),
            "deliveries_per_second": round(_WEBHOOK_EVENTS / throughput_seconds, 1),
        },
        "commit_to_first_attempt_ms": {
            "events": len(latencies),
            "offered_per_second": round(_WEBHOOK_TICK_EVENTS / _WEBHOOK_TICK_SECONDS),
            "p50": round(percentile(latencies, 0.50), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        },
        "backlog_commit_to_first_attempt_ms_p99": round(
            percentile([(first[e] - at) * 1000 for e, at in committed.items()], 0.99), 1
        ),
    }


def bench_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    figures = asyncio.run(_bench_webhooks(settings, args.seconds, args.concurrency or PER_SUBSCRIPTION_LIMIT))
    print(json.dumps(figures, indent=2))
    return 0
