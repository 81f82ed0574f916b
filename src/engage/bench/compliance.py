"""`compliance`: audited decisions through the engine in dialer batches of 500 (decisions per second), then
`POST /v1/compliance/check` on a real server under `--concurrency` clients for `--seconds` (p50/p90/p99).
The engine's clock is fixed on a working morning in Dubai, so every check runs. It appends to the audit log,
which refuses deletes: run it against a scratch database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime
from random import Random

import httpx

from engage.bench.common import hammer, load_figures, serving, unlimited_tenant
from engage.campaigns import service as campaigns
from engage.campaigns.schemas import CampaignCreate, DialingMode
from engage.cli_groups import service as cli_groups
from engage.cli_groups.schemas import CliGroupCreate
from engage.compliance.engine import Asker, Channel, CheckRequest, Engine
from engage.config import Settings
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.principal import Role
from engage.main import start_runtime
from engage.users import service as users
from engage.users.schemas import UserCreate

# Sunday 29 November 2026, 10:00 in Dubai: every check runs as on a working morning, whatever the real time.
_OPEN_HOURS = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
_BATCH = 500
_BATCHES = 20


def _ae_mobiles(rng: Random, count: int) -> list[str]:
    return [f"+97150{serial:07d}" for serial in rng.sample(range(10_000_000), count)]


async def _bench_compliance(settings: Settings, seconds: float, concurrency: int) -> dict[str, object]:
    """Decisions through the engine in dialer batches, then the single-check endpoint under concurrency. Both
    append to the audit log of the database they run against (it refuses deletes): run it on a scratch one.
    National registries are platform data and are left as found."""
    settings = settings.model_copy(update={"demo": True})
    rng = Random(4)  # noqa: S311 - benchmark data, not secrets
    async with start_runtime(settings, stop_embedded=False) as started_runtime:
        runtime = replace(started_runtime, clock=ManualClock(_OPEN_HOURS))
        tenant = await unlimited_tenant(runtime)
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            group = await cli_groups.create_group(
                session, tenant.id, CliGroupCreate(name="bench", numbers=["+97142345678"]), clock=runtime.clock
            )
            campaign = await campaigns.create_campaign(
                session,
                tenant.id,
                CampaignCreate(name="bench", dialing_mode=DialingMode.progressive, cli_group_id=group.id),
                clock=runtime.clock,
            )
            admin = await users.create_user(
                session,
                tenant.id,
                UserCreate(
                    email=f"bench-{secrets.token_hex(6)}@bench.engage.local",
                    password=secrets.token_urlsafe(16),
                    full_name="Bench Admin",
                    role=Role.admin,
                ),
                clock=runtime.clock,
            )
        engine = Engine(clock=runtime.clock, budget_seconds=settings.compliance.budget_ms / 1000)
        asker = Asker(Channel.dialer)
        batch_ms: list[float] = []
        outcomes: dict[str, int] = {}
        for _ in range(_BATCHES):
            requests = [CheckRequest(phone, campaign_id=campaign.campaign.id) for phone in _ae_mobiles(rng, _BATCH)]
            started = time.perf_counter()
            async with tenant_transaction(runtime.sessions, tenant.id) as session:
                decisions = await engine.decide(session, tenant.id, requests, asker)
            batch_ms.append((time.perf_counter() - started) * 1000)
            for decision in decisions:
                key = decision.blocking_rule or "allowed"
                outcomes[key] = outcomes.get(key, 0) + 1

        token = runtime.tokens.issue(user_id=admin.id, tenant_id=tenant.id, role=admin.role, now=runtime.clock.now())
        headers = {"Authorization": f"Bearer {token}"}
        denied_by_error = 0

        async with serving(settings, runtime) as base, httpx.AsyncClient(base_url=base, timeout=10.0) as client:

            async def one_check() -> httpx.Response:
                nonlocal denied_by_error
                body = {"phone": _ae_mobiles(rng, 1)[0], "campaign_id": str(campaign.campaign.id)}
                response = await client.post("/v1/compliance/check", headers=headers, json=body)
                if response.status_code == 200 and response.json().get("blocking_rule") == "compliance_error":
                    denied_by_error += 1
                return response

            latencies, errors = await hammer(one_check, seconds, concurrency)
    total_seconds = sum(batch_ms) / 1000
    return {
        "benchmark": "compliance",
        "batch": {
            "batches": _BATCHES,
            "decisions_per_batch": _BATCH,
            "decisions_per_second": round(_BATCHES * _BATCH / total_seconds, 1),
            "batch_ms_median": round(statistics.median(batch_ms), 1),
            "outcomes": outcomes,
        },
        "single_check": {
            "endpoint": "POST /v1/compliance/check",
            **load_figures(latencies, errors, seconds, concurrency),
            "denied_by_compliance_error": denied_by_error,
        },
    }


def bench_compliance(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(asyncio.run(_bench_compliance(settings, args.seconds, args.concurrency or 50)), indent=2))
    return 0
