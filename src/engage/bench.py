"""`engage bench <what>`: benchmarks are programs that print figures, never timed tests.

`api`: a real uvicorn server on a loopback port and concurrent httpx clients doing what a wallboard or
CRM does most (authenticated, tenant-scoped, paginated reads). It creates its own tenant (rate limit
lifted) and prints throughput and latency percentiles as JSON.

`contacts`: uploads of 10,000 contacts through the real service code path (schema validation, E.164
normalisation, deduplication, DNC marking, insert) into a campaign that already holds 100,000, beside a raw
`COPY` of the same rows into a twin campaign; prints milliseconds and their ratio.

`search`: 1,000,000 contacts (mixed Arabic and Latin names, UAE and KSA numbers) loaded with `COPY`, then
many searches through the service for a name, a phone fragment and an Arabic name; prints p50/p95 per kind.

`switch`: the ESL client and adapter against the switch simulator in its own process (`engage sim`): paced
originates (target 125 a second) with enough talk time that `--concurrency` legs (default 1,000) are up at
once; prints the originate rate, event lag p50/p99 (switch stamp to client), per-leg order and CPU per side.

`compliance`: audited decisions through the engine in dialer batches of 500 (decisions per second), then
`POST /v1/compliance/check` on a real server under `--concurrency` clients for `--seconds` (p50/p90/p99).
The engine's clock is fixed on a working morning in Dubai, so every check runs. It appends to the audit log,
which refuses deletes: run it against a scratch database.

`webhooks`: a receiver in its own process (raw asyncio HTTP/1.1, keep-alive, answers 200 and notes when each
event id first arrived), one tenant with one subscription to it, and two dispatchers running concurrently (in
this process, sharing its connection pool). Throughput: 5,000 events recorded first (batches of 250), then the
time until every delivery has succeeded. Latency: events recorded at 250 a second for `--seconds` while the
dispatchers run; the time from each event's outbox commit to its first arrival at the receiver (p50/p99).
`--concurrency` is the per-subscription limit (default 4).

Both create their own tenant. Bulk loads run as the database owner: PostgreSQL refuses `COPY FROM` into a
table with row-level security for the app role, and the owner is not subject to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

import asyncpg
import httpx
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.campaigns import service as campaigns
from engage.campaigns.models import Campaign
from engage.campaigns.schemas import CampaignCreate, DialingMode
from engage.cli_groups import service as cli_groups
from engage.cli_groups.models import CliGroup
from engage.cli_groups.schemas import CliGroupCreate
from engage.compliance.engine import Asker, Channel, CheckRequest, Engine
from engage.config import Settings, WebhookSettings
from engage.contacts import service as contacts
from engage.contacts.schemas import ContactSearch, ContactUpload
from engage.core.clock import Clock, ManualClock, SystemClock
from engage.core.db import asyncpg_url, create_engine, session_factory, tenant_transaction, unscoped_transaction
from engage.core.ids import new_id
from engage.core.outbox import record_event
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.main import create_app, database_url, start_runtime
from engage.migrate import migrate
from engage.telephony.esl.client import EslClient
from engage.telephony.esl.codec import Event as EslEvent
from engage.telephony.esl.switch import EslSwitch
from engage.telephony.events import LegAnswered, LegHangup, LegRinging
from engage.telephony.port import Originate, SwitchError
from engage.tenancy import service as tenancy
from engage.tenancy.models import Tenant
from engage.users import service as users
from engage.users.schemas import UserCreate
from engage.webhooks.dispatcher import PER_SUBSCRIPTION_LIMIT, Dispatcher
from engage.webhooks.models import WebhookDelivery, WebhookSubscription

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


@asynccontextmanager
async def _serving(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    """The app on a real uvicorn server on a loopback port, for as long as the block runs: its base URL."""
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def _unlimited_tenant(runtime: Runtime) -> Tenant:
    """A tenant in AE whose rate limit is lifted, so a benchmark measures the server, not the limiter."""
    async with unscoped_transaction(runtime.sessions) as session:
        return await tenancy.create(
            session,
            name="bench",
            timezone="Asia/Dubai",
            country="AE",
            rate_limit_per_minute=_UNLIMITED,
            clock=runtime.clock,
        )


async def _bench_api(settings: Settings, seconds: float, concurrency: int) -> dict[str, object]:
    settings = settings.model_copy(update={"demo": True})
    async with start_runtime(settings, stop_embedded=False) as runtime:
        password = secrets.token_urlsafe(16)
        email = f"bench-{secrets.token_hex(6)}@bench.engage.local"
        tenant = await _unlimited_tenant(runtime)
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
        async with _serving(settings, runtime) as base, httpx.AsyncClient(base_url=base, timeout=10.0) as client:
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
    return {
        "benchmark": "api",
        "endpoint": "GET /v1/users?limit=20",
        **_load_figures(latencies, errors, seconds, concurrency),
        "login_ms_median": round(statistics.median(login_ms), 1),
    }


def _load_figures(latencies: list[float], errors: int, seconds: float, concurrency: int) -> dict[str, object]:
    """What a load run against one endpoint reports: volume, throughput and latency percentiles."""
    return {
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
    figures = asyncio.run(_bench_api(settings, args.seconds, args.concurrency or 32))
    print(json.dumps(figures, indent=2))
    return 0


# Names as they appear in Gulf contact lists: Latin transliterations, and Arabic written with the variants
# people type (hamza forms, ta marbuta, alef maqsura, the odd tashkeel), so search has to normalise.
_LATIN_FIRST = [
    "Ahmad",
    "Ahmed",
    "Mohammed",
    "Muhammad",
    "Omar",
    "Khalid",
    "Youssef",
    "Ali",
    "Hassan",
    "Hussein",
    "Ibrahim",
    "Abdullah",
    "Rashid",
    "Saeed",
    "Faisal",
    "Hamdan",
    "Sultan",
    "Majid",
    "Tariq",
    "Karim",
    "Sara",
    "Fatima",
    "Aisha",
    "Mariam",
    "Layla",
    "Noura",
    "Huda",
    "Reem",
    "Salma",
    "Dana",
    "Hala",
    "Rania",
    "Yasmin",
    "Priya",
    "Rahul",
    "Arjun",
    "Anita",
    "John",
    "Maria",
    "José",
    "Chloé",
    "Zoë",
    "Andrés",
    "Hélène",
    "Renée",
    "Björn",
    "Nicolás",
]
_LATIN_LAST = [
    "Al Rashid",
    "Al Mansoori",
    "Al Nuaimi",
    "Al Hashimi",
    "Al Ketbi",
    "Al Mheiri",
    "Al Shamsi",
    "Al Qahtani",
    "Al Harbi",
    "Al Ghamdi",
    "Al Zahrani",
    "Al Otaibi",
    "Haddad",
    "Khalil",
    "Nasser",
    "Hassan",
    "Saleh",
    "Farouk",
    "Aziz",
    "Darwish",
    "Karam",
    "Mansour",
    "Sabbagh",
    "Khoury",
    "Nair",
    "Menon",
    "Sharma",
    "Pillai",
    "Fernandes",
    "D'Souza",
    "Smith",
    "García",
    "Müller",
    "Peña",
    "Ibáñez",
    "Côté",
    "Ødegaard",
]
_ARABIC_FIRST = [
    "أحمد",
    "احمد",
    "إبراهيم",
    "ابراهيم",
    "محمد",
    "مُحَمَّد",
    "عمر",
    "خالد",
    "يوسف",
    "علي",
    "حسن",
    "حسين",
    "عبدالله",
    "راشد",
    "سعيد",
    "فيصل",
    "حمدان",
    "سلطان",
    "ماجد",
    "طارق",
    "كريم",
    "أسامة",
    "اسامه",
    "إسماعيل",
    "سارة",
    "ساره",
    "فاطمة",
    "فاطمه",
    "عائشة",
    "مريم",
    "ليلى",
    "ليلي",
    "نورة",
    "نوره",
    "هدى",
    "ريم",
    "سلمى",
    "دانة",
    "هالة",
    "رانيا",
    "ياسمين",
    "أمل",
    "آمنة",
    "منى",
]
_ARABIC_LAST = [
    "الراشد",
    "المنصوري",
    "النعيمي",
    "الهاشمي",
    "الكعبي",
    "المهيري",
    "الشامسي",
    "القحطاني",
    "الحربي",
    "الغامدي",
    "الزهراني",
    "العتيبي",
    "حداد",
    "خليل",
    "ناصر",
    "حسن",
    "صالح",
    "فاروق",
    "عزيز",
    "درويش",
    "كرم",
    "منصور",
    "الصباغ",
    "الخوري",
    "الأحمد",
    "الإبراهيم",
    "مدرسة",
    "الظاهري",
    "السويدي",
    "المطيري",
    "الدوسري",
]
_FIELD_VALUES = ("comprehensive", "third-party", "gold", "silver", "renewal", "new", "Dubai", "Riyadh", "Jeddah")


@dataclass(frozen=True, slots=True)
class _Person:
    phone: str  # E.164
    first_name: str
    last_name: str
    custom_fields: dict[str, str]


# Mobile prefixes that phonenumbers accepts as valid: UAE (+971 5x) and KSA (+966 5x), each followed by 7 digits.
_MOBILE_PREFIXES = (
    "+97150",
    "+97152",
    "+97154",
    "+97155",
    "+97156",
    "+97158",
    "+96650",
    "+96653",
    "+96654",
    "+96655",
    "+96656",
    "+96659",
)
_SERIALS = range(len(_MOBILE_PREFIXES) * 10_000_000)


def _phone(serial: int) -> str:
    prefix, rest = divmod(serial, 10_000_000)
    return f"{_MOBILE_PREFIXES[prefix]}{rest:07d}"


def _people(rng: Random, count: int) -> list[_Person]:
    """`count` contacts with distinct, valid UAE and KSA mobile numbers, names half Arabic and half Latin, and
    two custom fields."""
    people: list[_Person] = []
    for serial in rng.sample(_SERIALS, count):
        arabic = rng.random() < 0.5
        first = rng.choice(_ARABIC_FIRST if arabic else _LATIN_FIRST)
        last = rng.choice(_ARABIC_LAST if arabic else _LATIN_LAST)
        fields = {"account_number": f"ACC-{serial % 1_000_000:06d}", "policy_type": rng.choice(_FIELD_VALUES)}
        people.append(_Person(_phone(serial), first, last, fields))
    return people


# The columns a raw COPY writes; `search_text` is generated by PostgreSQL, as on every insert.
_COPY_COLUMNS = (
    "id",
    "tenant_id",
    "campaign_id",
    "phone",
    "first_name",
    "last_name",
    "custom_fields",
    "status",
    "attempts",
    "created_at",
)


def _records(
    people: Sequence[_Person], tenant_id: uuid.UUID, campaign_id: uuid.UUID, now: datetime
) -> list[tuple[Any, ...]]:
    return [
        (
            new_id(),
            tenant_id,
            campaign_id,
            p.phone,
            p.first_name,
            p.last_name,
            json.dumps(p.custom_fields),
            "pending",
            0,
            now,
        )
        for p in people
    ]


async def _copy(owner: asyncpg.Connection, records: list[tuple[Any, ...]]) -> float:
    """Milliseconds to COPY `records` into contacts, in a transaction of its own."""
    started = time.perf_counter()
    async with owner.transaction():
        await owner.copy_records_to_table("contacts", records=records, columns=_COPY_COLUMNS)
    return (time.perf_counter() - started) * 1000


@dataclass(frozen=True, slots=True)
class _BenchDb:
    sessions: async_sessionmaker[AsyncSession]
    owner: asyncpg.Connection
    clock: Clock


@asynccontextmanager
async def _bench_db(settings: Settings) -> AsyncIterator[_BenchDb]:
    """The app's sessions (role engage_app, under RLS) and one owner connection for bulk loads."""
    async with database_url(settings, stop_embedded=False) as url:
        await migrate(url)
        engine = create_engine(url, pool_size=2, statement_timeout_ms=600_000)
        owner = await asyncpg.connect(
            asyncpg_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            yield _BenchDb(session_factory(engine), owner, SystemClock())
        finally:
            await owner.close()
            await engine.dispose()


async def _bench_tenant(db: _BenchDb, campaigns: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A tenant in AE with a CLI group and `campaigns` draft campaigns, inserted with the ORM (the CLI-group and
    campaign services belong to other domains and are not what is measured)."""
    now = db.clock.now()
    async with unscoped_transaction(db.sessions) as session:
        tenant = await tenancy.create(
            session, name="bench", timezone="Asia/Dubai", country="AE", rate_limit_per_minute=_UNLIMITED, clock=db.clock
        )
    async with tenant_transaction(db.sessions, tenant.id) as session:
        group = CliGroup(id=new_id(), tenant_id=tenant.id, name="bench", created_at=now)
        session.add(group)
        await session.flush()
        ids = []
        for n in range(campaigns):
            campaign = Campaign(
                id=new_id(),
                tenant_id=tenant.id,
                name=f"Bench campaign {n + 1}",
                status="draft",
                dialing_mode="progressive",
                cli_group_id=group.id,
                max_attempts=3,
                retry_delay_minutes=60,
                dial_ratio=Decimal("1.5"),
                timezone="Asia/Dubai",
                wrap_up_seconds=15,
                abandon_rate_target=Decimal("3.0"),
                created_at=now,
                updated_at=now,
            )
            session.add(campaign)
            ids.append(campaign.id)
        await session.flush()
    return tenant.id, ids


async def _drop_bench_tenant_contacts(db: _BenchDb, tenant_id: uuid.UUID) -> None:
    """Leave the database as found (bar the small tenant rows): the search index is shared by every tenant."""
    await db.owner.execute("DELETE FROM contacts WHERE tenant_id = $1", tenant_id)


_UPLOAD = 10_000
# `engage bench` takes no per-benchmark options; these sizes make each figure a median or percentile of many.
_UPLOAD_ROUNDS = 3
_QUERIES_PER_KIND = 25
_PRELOAD = 100_000


async def _bench_contacts(settings: Settings, rounds: int) -> dict[str, object]:
    rng = Random(20261127)  # noqa: S311 - benchmark data, not secrets
    async with _bench_db(settings) as db:
        tenant_id, (uploaded_to, copied_to) = await _bench_tenant(db, 2)
        try:
            # Both campaigns hold the same 100,000 numbers; each round's 10,000 are new to both.
            everyone = _people(rng, _PRELOAD + rounds * _UPLOAD)
            preload, batches = everyone[:_PRELOAD], everyone[_PRELOAD:]
            now = db.clock.now()
            for campaign_id in (uploaded_to, copied_to):
                await _copy(db.owner, _records(preload, tenant_id, campaign_id, now))
            # What autovacuum does after a load this size (its insert threshold): the campaign as it stands later.
            await db.owner.execute("VACUUM ANALYZE contacts")
            runs = []
            for n in range(rounds):
                batch = batches[n * _UPLOAD : (n + 1) * _UPLOAD]
                # As a client sends them: half in local format, as read in the tenant's country.
                body = {
                    "contacts": [
                        {
                            "phone": "0" + p.phone[4:] if i % 2 and p.phone.startswith("+971") else p.phone,
                            "first_name": p.first_name,
                            "last_name": p.last_name,
                            "custom_fields": p.custom_fields,
                        }
                        for i, p in enumerate(batch)
                    ]
                }
                started = time.perf_counter()
                data = ContactUpload.model_validate(body)
                validated = time.perf_counter()
                async with tenant_transaction(db.sessions, tenant_id) as session:
                    result = await contacts.upload(session, tenant_id, uploaded_to, data, clock=db.clock)
                finished = time.perf_counter()
                copy_ms = await _copy(db.owner, _records(batch, tenant_id, copied_to, db.clock.now()))
                upload_ms = (finished - started) * 1000
                runs.append(
                    {
                        "upload_ms": round(upload_ms, 1),
                        "of_which_validation_ms": round((validated - started) * 1000, 1),
                        "copy_ms": round(copy_ms, 1),
                        "ratio": round(upload_ms / copy_ms, 2),
                        "campaign_held_before": result.total_in_campaign - result.imported - result.dnc_filtered,
                        "imported": result.imported,
                    }
                )
        finally:
            await _drop_bench_tenant_contacts(db, tenant_id)
    upload = [r["upload_ms"] for r in runs]
    copy = [r["copy_ms"] for r in runs]
    return {
        "benchmark": "contacts",
        "contacts_per_upload": _UPLOAD,
        "campaign_preloaded_with": _PRELOAD,
        "runs": runs,
        "upload_ms_median": round(statistics.median(upload), 1),
        "copy_ms_median": round(statistics.median(copy), 1),
        "ratio_median": round(statistics.median(upload) / statistics.median(copy), 2),
    }


def bench_contacts(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(asyncio.run(_bench_contacts(settings, _UPLOAD_ROUNDS)), indent=2))
    return 0


_SEARCH_CONTACTS = 1_000_000
_SEARCH_CAMPAIGNS = 10
_LOAD_CHUNK = 50_000


def _arabic_variant(rng: Random, name: str) -> str:
    """The name as someone might type it: hamza dropped or moved, ta marbuta as ha."""
    alef, alef_hamza, alef_hamza_below, ta_marbuta, ha, alef_maqsura, ya = "\u0627\u0623\u0625\u0629\u0647\u0649\u064a"
    swaps = {
        alef_hamza: alef,
        alef_hamza_below: alef,
        alef: rng.choice((alef, alef_hamza)),
        ta_marbuta: ha,
        ha: ta_marbuta,
        alef_maqsura: ya,
    }
    return "".join(swaps.get(ch, ch) if rng.random() < 0.5 else ch for ch in name)


async def _bench_search(settings: Settings, queries: int) -> dict[str, object]:
    rng = Random(1_000_000)  # noqa: S311 - benchmark data, not secrets
    async with _bench_db(settings) as db:
        tenant_id, campaign_ids = await _bench_tenant(db, _SEARCH_CAMPAIGNS)
        try:
            load_started = time.perf_counter()
            people = _people(rng, _SEARCH_CONTACTS)
            now = db.clock.now()
            for start in range(0, _SEARCH_CONTACTS, _LOAD_CHUNK):
                chunk = people[start : start + _LOAD_CHUNK]
                await _copy(
                    db.owner,
                    _records(chunk, tenant_id, campaign_ids[start * _SEARCH_CAMPAIGNS // _SEARCH_CONTACTS], now),
                )
            await db.owner.execute("VACUUM ANALYZE contacts")
            load_seconds = time.perf_counter() - load_started

            latin = [p for p in rng.sample(people, queries * 4) if p.first_name in _LATIN_FIRST][:queries]
            arabic = [p for p in rng.sample(people, queries * 4) if p.first_name in _ARABIC_FIRST][:queries]
            kinds: dict[str, list[str]] = {
                "name": [rng.choice((p.first_name, f"{p.first_name} {p.last_name}", p.last_name)) for p in latin],
                "phone_fragment": [
                    p.phone[(cut := rng.randrange(5, len(p.phone) - 5)) : cut + rng.randrange(5, 8)]
                    for p in rng.sample(people, queries)
                ],
                "phone_local": ["0" + p.phone[4:] for p in rng.sample(people, queries) if p.phone.startswith("+971")],
                "arabic_name": [
                    _arabic_variant(rng, rng.choice((p.first_name, f"{p.first_name} {p.last_name}"))) for p in arabic
                ],
            }
            figures: dict[str, object] = {}
            for kind, texts in kinds.items():
                timings, totals = [], []
                for q in texts:
                    started = time.perf_counter()
                    async with tenant_transaction(db.sessions, tenant_id) as session:
                        _, total = await contacts.search(session, tenant_id, ContactSearch(q=q))
                    timings.append((time.perf_counter() - started) * 1000)
                    totals.append(total)
                figures[kind] = {
                    "searches": len(texts),
                    "p50_ms": round(_percentile(timings, 0.50), 2),
                    "p95_ms": round(_percentile(timings, 0.95), 2),
                    "max_ms": round(max(timings), 2),
                    "median_matches": statistics.median(totals),
                    "example": texts[0],
                }
        finally:
            await _drop_bench_tenant_contacts(db, tenant_id)
    return {
        "benchmark": "search",
        "contacts": _SEARCH_CONTACTS,
        "load_seconds": round(load_seconds, 1),
        "kinds": figures,
    }


def bench_search(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(asyncio.run(_bench_search(settings, _QUERIES_PER_KIND)), indent=2, ensure_ascii=False))
    return 0


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
        tenant = await _unlimited_tenant(runtime)
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

        async with _serving(settings, runtime) as base, httpx.AsyncClient(base_url=base, timeout=10.0) as client:

            async def one_check() -> httpx.Response:
                nonlocal denied_by_error
                body = {"phone": _ae_mobiles(rng, 1)[0], "campaign_id": str(campaign.campaign.id)}
                response = await client.post("/v1/compliance/check", headers=headers, json=body)
                if response.status_code == 200 and response.json().get("blocking_rule") == "compliance_error":
                    denied_by_error += 1
                return response

            latencies, errors = await _hammer(one_check, seconds, concurrency)
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
            **_load_figures(latencies, errors, seconds, concurrency),
            "denied_by_compliance_error": denied_by_error,
        },
    }


def bench_compliance(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(asyncio.run(_bench_compliance(settings, args.seconds, args.concurrency or 50)), indent=2))
    return 0


_SWITCH_TARGET_RATE = 125.0  # originates per second the benchmark aims at (issue 5: sustain at least 100)
_SWITCH_DEFAULT_LEGS = 1000


def _process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of another process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _start_simulator(
    password: str, talk_seconds: float, *, overrides: Mapping[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, int]:
    """`engage sim` in its own process (so each side's CPU can be told apart); every callee answers and talks
    long enough for `legs` calls to be up at once at the target rate (`overrides`: other callee behaviour)."""
    env = {
        **os.environ,
        "ENGAGE_ESL_PASSWORD": password,
        "ENGAGE_SIM_ANSWER_RATE": "1",
        "ENGAGE_SIM_BUSY_RATE": "0",
        "ENGAGE_SIM_VOICEMAIL_RATE": "0",
        "ENGAGE_SIM_RING_SECONDS": "0.5-1.5",
        "ENGAGE_SIM_TALK_SECONDS": f"{talk_seconds * 0.9:.1f}-{talk_seconds * 1.1:.1f}",
        "ENGAGE_SIM_SEED": "5",
        "ENGAGE_LOG_LEVEL": "WARNING",
        **(overrides or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engage.cli", "sim", "--port", "0", env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    printed = b""
    try:
        while True:  # it prints where it listens as one (indented) JSON object
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            if not line:
                raise RuntimeError("the switch simulator exited before listening")
            printed += line
            try:
                return process, int(json.loads(printed)["esl"]["port"])
            except ValueError:
                continue
    except BaseException:
        process.kill()
        await process.wait()
        raise


async def _bench_switch(seconds: float, legs: int) -> dict[str, object]:
    password = secrets.token_urlsafe(16)
    talk_seconds = legs / _SWITCH_TARGET_RATE
    simulator, port = await _start_simulator(password, talk_seconds)
    client, observer = EslClient(), EslClient()
    switch = EslSwitch(client, gateway="carrier", clock=SystemClock())
    lags_ms: list[float] = []
    states: dict[str, list[str]] = {}
    live: set[str] = set()
    peak_live = 0
    try:
        await client.connect("127.0.0.1", port, password)
        await switch.start()
        await observer.connect("127.0.0.1", port, password)
        await observer.subscribe(["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"])

        async def observe() -> None:
            # The switch stamps each event (Event-Date-Timestamp, µs); both processes share this machine's clock.
            async for signal in observer.signals():
                if isinstance(signal, EslEvent):
                    stamp = signal.get("Event-Date-Timestamp")
                    if stamp and stamp.isdigit():
                        lags_ms.append(time.time() * 1000 - int(stamp) / 1000)

        async def consume() -> None:
            nonlocal peak_live
            async for event in switch.events():
                if isinstance(event, LegRinging | LegAnswered | LegHangup):
                    states.setdefault(event.leg_id, []).append(type(event).__name__)
                    if isinstance(event, LegHangup):
                        live.discard(event.leg_id)

        tasks = [asyncio.create_task(observe()), asyncio.create_task(consume())]
        cpu_client, cpu_sim = _own_cpu_seconds(), _process_cpu_seconds(simulator.pid)
        started = time.perf_counter()
        originated = failed = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            # Paced: the n-th originate leaves at n / rate seconds, never in a burst.
            due = originated + failed - elapsed * _SWITCH_TARGET_RATE
            if due >= 0:
                await asyncio.sleep(due / _SWITCH_TARGET_RATE)
            leg_id = str(uuid.uuid4())
            try:
                await switch.originate(
                    Originate(
                        leg_id=leg_id,
                        destination=f"+97150{originated % 10_000_000:07d}",
                        caller_id="+97142345678",
                        timeout_seconds=30,
                    )
                )
            except SwitchError:
                failed += 1
                continue
            originated += 1
            live.add(leg_id)
            peak_live = max(peak_live, len(live))
        originate_seconds = time.perf_counter() - started
        cpu_client = _own_cpu_seconds() - cpu_client
        sim_after = _process_cpu_seconds(simulator.pid)
        sim_cpu = sim_after - cpu_sim if sim_after is not None and cpu_sim is not None else None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await switch.close()
        await client.close()
        await observer.close()
        simulator.terminate()
        await simulator.wait()
    expected = ("LegRinging", "LegAnswered", "LegHangup")
    out_of_order = sum(1 for seen in states.values() if list(seen) != [s for s in expected if s in seen])
    return {
        "benchmark": "switch",
        "seconds": round(originate_seconds, 1),
        "target_originates_per_second": _SWITCH_TARGET_RATE,
        "originates": originated,
        "originate_failures": failed,
        "originates_per_second": round(originated / originate_seconds, 1),
        "concurrent_legs_peak": peak_live,
        "legs_with_events_out_of_order": out_of_order,
        "event_lag_ms": {
            "events": len(lags_ms),
            "p50": round(_percentile(lags_ms, 0.50), 2) if lags_ms else None,
            "p99": round(_percentile(lags_ms, 0.99), 2) if lags_ms else None,
        },
        "cpu_seconds": {
            "client": round(cpu_client, 2),
            "simulator": round(sim_cpu, 2) if sim_cpu is not None else None,
        },
    }


def bench_switch(args: argparse.Namespace, settings: Settings) -> int:
    legs = args.concurrency or _SWITCH_DEFAULT_LEGS
    seconds = max(args.seconds, 2 * legs / _SWITCH_TARGET_RATE)  # long enough to hold `legs` calls up at once
    print(json.dumps(asyncio.run(_bench_switch(seconds, legs)), indent=2))
    return 0


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
    port = _free_port()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WEBHOOK_RECEIVER, str(port), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert receiver.stdout is not None
        await asyncio.wait_for(receiver.stdout.readline(), 10)
        async with start_runtime(settings, stop_embedded=False) as runtime:
            tenant = await _unlimited_tenant(runtime)
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
            "p50": round(_percentile(latencies, 0.50), 1),
            "p99": round(_percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        },
        "backlog_commit_to_first_attempt_ms_p99": round(
            _percentile([(first[e] - at) * 1000 for e, at in committed.items()], 0.99), 1
        ),
    }


def bench_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    figures = asyncio.run(_bench_webhooks(settings, args.seconds, args.concurrency or PER_SUBSCRIPTION_LIMIT))
    print(json.dumps(figures, indent=2))
    return 0


BENCHMARKS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "api": bench_api,
    "compliance": bench_compliance,
    "contacts": bench_contacts,
    "search": bench_search,
    "switch": bench_switch,
    "webhooks": bench_webhooks,
}
