"""`engage bench reports`: report exports at volume, through the service the API calls.

A tenant with `--rows` calls (1,000,000 by default; loaded with one `INSERT … SELECT generate_series`) is exported
as a call_detail CSV: over 10,000 rows, so the file is written row by row from a server-side cursor and stored in
a local object store, as a large export is in production. Then `--pdf-rows` of them (100,000) as a PDF. It prints
rows/s for each and the process's peak RSS (the high-water mark, so the CSV's figure is read before the PDF runs)
against the RSS before the first export: the memory of an export must not grow with its rows (the issue's bound:
a 1,000,000-row CSV under 200 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from engage.campaigns import service as campaigns
from engage.campaigns.schemas import CampaignCreate, DialingMode
from engage.cli_groups import service as cli_groups
from engage.cli_groups.schemas import CliGroupCreate
from engage.config import Settings
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.principal import Principal, Role
from engage.core.runtime import Runtime
from engage.main import start_runtime
from engage.reports import service as reports
from engage.reports.schemas import ReportDownload, ReportExport, ReportFormat, ReportType
from engage.storage.local import LocalStore

from .common import unlimited_tenant

START = datetime(2026, 6, 1, tzinfo=UTC)

# One statement: the calls of a campaign, one a second from START, a quarter of them bridged to nobody in
# particular with a talk time and a disposition. (Constants and bound parameters only.)
_LOAD_CALLS = text(
    """
    INSERT INTO calls (id, tenant_id, campaign_id, contact_phone, direction, origin, status, abandoned,
                       disposition, duration_seconds, talk_time_seconds, started_at, answered_at, ended_at)
    SELECT gen_random_uuid(), :tenant_id, :campaign_id, '+9715' || lpad(i::text, 8, '0'), 'outbound', 'dialer',
           CASE WHEN i % 4 = 0 THEN 'completed' ELSE 'no_answer' END, false,
           CASE WHEN i % 4 = 0 THEN 'sale' END, 30 + i % 200, CASE WHEN i % 4 = 0 THEN i % 180 END,
           t.start + make_interval(secs => i), CASE WHEN i % 4 = 0 THEN t.start + make_interval(secs => i + 5) END,
           t.start + make_interval(secs => i + 30 + i % 200)
    FROM generate_series(1, :rows) AS i, (SELECT CAST(:start AS timestamptz) AS start) AS t
    """
)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _campaign(runtime: Runtime, tenant_id: uuid.UUID, rows: int) -> uuid.UUID:
    number = f"+97150{secrets.randbelow(10_000_000):07d}"
    async with tenant_transaction(runtime.sessions, tenant_id) as session:
        group = await cli_groups.create_group(
            session, tenant_id, CliGroupCreate(name=f"bench {number}", numbers=[number]), clock=runtime.clock
        )
        view = await campaigns.create_campaign(
            session,
            tenant_id,
            CampaignCreate(name=f"Bench {rows}", dialing_mode=DialingMode.progressive, cli_group_id=group.id),
            clock=runtime.clock,
        )
        # A million rows take longer than the service's statement timeout allows one statement.
        await session.execute(text("SET LOCAL statement_timeout = '15min'"))
        await session.execute(
            _LOAD_CALLS, {"tenant_id": tenant_id, "campaign_id": view.campaign.id, "start": START, "rows": rows}
        )
    return view.campaign.id


async def _export(
    runtime: Runtime, principal: Principal, store: LocalStore, campaign_id: uuid.UUID, fmt: ReportFormat
) -> dict[str, object]:
    body = ReportExport.model_validate(
        {
            "report_type": ReportType.call_detail,
            "format": fmt,
            "from": START,
            "to": START + timedelta(days=60),
            "campaign_id": campaign_id,
        }
    )
    started = time.perf_counter()
    async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
        result = await reports.export(session, principal, body, store, clock=runtime.clock)
    seconds = time.perf_counter() - started
    if not isinstance(result, ReportDownload):
        raise RuntimeError("a report this large must be a download")
    files = list(store.root.rglob(f"*.{fmt.value}"))
    return {
        "format": fmt.value,
        "rows": result.rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(result.rows / seconds),
        "file_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
    }


async def _bench_reports(settings: Settings, rows: int, pdf_rows: int) -> dict[str, object]:
    # Demo mode: without ENGAGE_JWT_SECRET the runtime makes its own (no token is issued here).
    settings = settings.model_copy(update={"demo": True})
    async with start_runtime(settings, stop_embedded=False) as runtime:
        tenant = await unlimited_tenant(runtime)
        principal = Principal(user_id=new_id(), tenant_id=tenant.id, role=Role.admin)
        loading = time.perf_counter()
        big = await _campaign(runtime, tenant.id, rows)
        small = await _campaign(runtime, tenant.id, pdf_rows)
        load_seconds = time.perf_counter() - loading
        with tempfile.TemporaryDirectory(prefix="engage-bench-reports-") as folder:
            store = LocalStore(
                Path(folder), public_url="http://127.0.0.1", signing_key=secrets.token_bytes(32), clock=runtime.clock
            )
            before = _rss_mib()
            csv_figures = await _export(runtime, principal, store, big, ReportFormat.csv)
            pdf_figures = await _export(runtime, principal, store, small, ReportFormat.pdf)
    return {
        "benchmark": "reports",
        "load_seconds": round(load_seconds, 1),
        "rss_before_mib": round(before, 1),
        "exports": [csv_figures, pdf_figures],
    }


def bench_reports(args: argparse.Namespace, settings: Settings) -> int:
    rows = args.count if args.count is not None else 1_000_000
    pdf_rows = args.pdf_rows if args.pdf_rows is not None else 100_000
    figures = asyncio.run(_bench_reports(settings, rows, pdf_rows))
    print(json.dumps(figures, indent=2))
    return 0
