"""`search`: 1,000,000 contacts (mixed Arabic and Latin names, UAE and KSA numbers) loaded with `COPY`, then
many searches through the service for a name, a phone fragment and an Arabic name; prints p50/p95 per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from random import Random

from engage.bench.common import percentile
from engage.bench.people import (
    ARABIC_FIRST,
    LATIN_FIRST,
    bench_db,
    bench_tenant,
    contact_records,
    copy_contacts,
    drop_bench_tenant_contacts,
    make_people,
    vacuum_contacts,
)
from engage.config import Settings
from engage.contacts import service as contacts
from engage.contacts.schemas import ContactSearch
from engage.core.db import tenant_transaction

_QUERIES_PER_KIND = 25
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
    async with bench_db(settings) as db:
        tenant_id, campaign_ids = await bench_tenant(db, _SEARCH_CAMPAIGNS)
        try:
            load_started = time.perf_counter()
            people = make_people(rng, _SEARCH_CONTACTS)
            now = db.clock.now()
            for start in range(0, _SEARCH_CONTACTS, _LOAD_CHUNK):
                chunk = people[start : start + _LOAD_CHUNK]
                await copy_contacts(
                    db.owner,
                    contact_records(chunk, tenant_id, campaign_ids[start * _SEARCH_CAMPAIGNS // _SEARCH_CONTACTS], now),
                )
            await vacuum_contacts(db.owner)
            load_seconds = time.perf_counter() - load_started

            latin = [p for p in rng.sample(people, queries * 4) if p.first_name in LATIN_FIRST][:queries]
            arabic = [p for p in rng.sample(people, queries * 4) if p.first_name in ARABIC_FIRST][:queries]
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
                timings: list[float] = []
                totals: list[int] = []
                for q in texts:
                    started = time.perf_counter()
                    async with tenant_transaction(db.sessions, tenant_id) as session:
                        found = await contacts.search(session, tenant_id, ContactSearch(q=q))
                    timings.append((time.perf_counter() - started) * 1000)
                    totals.append(int(found["total"]))
                figures[kind] = {
                    "searches": len(texts),
                    "p50_ms": round(percentile(timings, 0.50), 2),
                    "p95_ms": round(percentile(timings, 0.95), 2),
                    "max_ms": round(max(timings), 2),
                    "median_matches": statistics.median(totals),
                    "example": texts[0],
                }
        finally:
            await drop_bench_tenant_contacts(db, tenant_id)
    return {
        "benchmark": "search",
        "contacts": _SEARCH_CONTACTS,
        "load_seconds": round(load_seconds, 1),
        "kinds": figures,
    }


def bench_search(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(asyncio.run(_bench_search(settings, _QUERIES_PER_KIND)), indent=2, ensure_ascii=False))
    return 0
