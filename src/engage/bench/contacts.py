"""`contacts`: uploads of 10,000 contacts through the real service code path (schema validation, E.164
normalisation, deduplication, DNC marking, insert) into a campaign that already holds 100,000, beside a raw
`COPY` of the same rows into a twin campaign; prints milliseconds and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from random import Random

from engage.bench.people import (
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
from engage.contacts.schemas import ContactUpload
from engage.core.db import tenant_transaction

_UPLOAD = 10_000
# `engage bench` takes no per-benchmark options; these sizes make each figure a median or percentile of many.
_UPLOAD_ROUNDS = 3
_PRELOAD = 100_000


async def _bench_contacts(settings: Settings, rounds: int) -> dict[str, object]:
    rng = Random(20261127)  # noqa: S311 - benchmark data, not secrets
    async with bench_db(settings) as db:
        tenant_id, (uploaded_to, copied_to) = await bench_tenant(db, 2)
        try:
            # Both campaigns hold the same 100,000 numbers; each round's 10,000 are new to both.
            everyone = make_people(rng, _PRELOAD + rounds * _UPLOAD)
            preload, batches = everyone[:_PRELOAD], everyone[_PRELOAD:]
            now = db.clock.now()
            for campaign_id in (uploaded_to, copied_to):
                await copy_contacts(db.owner, contact_records(preload, tenant_id, campaign_id, now))
            # What autovacuum does after a load this size (its insert threshold): the campaign as it stands later.
            await vacuum_contacts(db.owner)
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
                copy_ms = await copy_contacts(db.owner, contact_records(batch, tenant_id, copied_to, db.clock.now()))
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
            await drop_bench_tenant_contacts(db, tenant_id)
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
