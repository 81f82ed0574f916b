"""POST /v1/reports/export: who may ask for what, the rows (computed by PostgreSQL, `repository`), and where they
go: inline up to 10,000 rows, else into a file written row by row and stored in object storage behind a
30-minute signed URL.

Invariants: an agent gets only its own calls and performance; every figure is an aggregate of the database;
instants are UTC in JSON and in the tenant's time zone in CSV and PDF; a large report never holds its rows in
memory (a server-side cursor feeds a writer thread, which writes to a temporary file that is removed after the
upload).
"""

from __future__ import annotations

import asyncio
import base64
import io
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from engage.campaigns import service as campaigns_service
from engage.core.clock import Clock
from engage.core.errors import ValidationFailed
from engage.core.ids import new_id
from engage.core.principal import Principal, Role
from engage.storage.port import ObjectStore, StorageError
from engage.tenancy import service as tenancy_service

from . import repository
from .errors import ExportStorageUnavailable, ReportNotAllowed
from .pdf import BarChart, write_pdf
from .pdf import Column as PdfColumn
from .repository import Scope
from .schemas import (
    DOWNLOAD_URL_SECONDS,
    INLINE_ROWS,
    MAX_RANGE,
    ReportDownload,
    ReportExport,
    ReportFormat,
    ReportInline,
    ReportType,
)
from .tables import COLUMNS, TITLES, Column, Kind, Row, Value
from .writers import ThreadRows, is_numeric, json_object, text_cells, write_csv, write_json

log = structlog.get_logger("engage.reports")

AGENT_REPORTS = frozenset({ReportType.call_detail, ReportType.agent_performance})
CONTENT_TYPES = {
    ReportFormat.json: "application/json",
    ReportFormat.csv: "text/csv",
    ReportFormat.pdf: "application/pdf",
}
# Column widths on a PDF page, relative: a local time ("2026-06-10 12:02:10") needs the most, a number the least.
PDF_WIDTHS = {
    Kind.text: 1.2,
    Kind.id: 1.0,
    Kind.integer: 0.7,
    Kind.seconds: 0.7,
    Kind.minutes: 0.7,
    Kind.percent: 0.7,
    Kind.rate: 0.7,
    Kind.instant: 2.0,
}
# A chart of more bars than this is unreadable on a page: the first ones (by name) are drawn.
CHART_BARS = 20


def _check_range(body: ReportExport) -> None:
    message: tuple[str, str] | None = None
    if body.from_ > body.to:
        message = ("from", "must not be after to")
    elif body.to - body.from_ > MAX_RANGE:
        message = ("to", f"must be within {MAX_RANGE.days} days of from")
    if message is not None:
        field, text = message
        raise ValidationFailed(f"{field}: {text}", extra={"errors": [{"field": field, "message": text}]})


def _scope(principal: Principal, body: ReportExport, now: datetime) -> Scope:
    _check_range(body)
    agent_ids: Sequence[uuid.UUID] | None = body.agent_ids
    if principal.role is Role.agent:
        if body.report_type not in AGENT_REPORTS:
            raise ReportNotAllowed("Agents may export only their own call_detail and agent_performance reports.")
        if agent_ids is not None and set(agent_ids) - {principal.user_id}:
            raise ReportNotAllowed("Agents may export only their own calls and performance.")
        agent_ids = [principal.user_id]
    return Scope(start=body.from_, end=body.to, now=now, campaign_id=body.campaign_id, agent_ids=agent_ids)


def _number(value: Value) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else 0.0


def _chart(report_type: ReportType, rows: Sequence[Row]) -> BarChart | None:
    """The summaries' chart: calls and connections per campaign or agent, calls per disposition."""
    shown = rows[:CHART_BARS]
    if not shown:
        return None
    if report_type is ReportType.campaign_summary:
        return BarChart(
            title="Dialled and connected per campaign",
            labels=[str(row[1]) for row in shown],
            series=[
                ("Dialled", [_number(row[2]) for row in shown]),
                ("Connected", [_number(row[3]) for row in shown]),
            ],
        )
    if report_type is ReportType.agent_performance:
        return BarChart(
            title="Calls and connections per agent",
            labels=[str(row[0]) for row in shown],
            series=[
                ("Calls", [_number(row[1]) for row in shown]),
                ("Connected", [_number(row[2]) for row in shown]),
            ],
        )
    if report_type is ReportType.disposition_summary:
        return BarChart(
            title="Calls per disposition",
            labels=[f"{row[2]} ({row[1] or '-'})" for row in shown],
            series=[("Calls", [_number(row[3]) for row in shown])],
        )
    return None


def _renderer(
    body: ReportExport, columns: Sequence[Column], zone: ZoneInfo, filters: Sequence[tuple[str, str]], generated_at: str
) -> Callable[[BinaryIO, Iterable[Row], BarChart | None], int]:
    def render(out: BinaryIO, rows: Iterable[Row], chart: BarChart | None) -> int:
        if body.format is ReportFormat.csv:
            return write_csv(out, columns, rows, zone, bom=body.csv_bom)
        if body.format is ReportFormat.json:
            return write_json(out, columns, rows)
        # A page is for people: ids (in CSV and JSON for machines) give their width to names and times.
        shown = [i for i, column in enumerate(columns) if column.kind is not Kind.id]
        return write_pdf(
            out,
            title=TITLES[body.report_type],
            filters=filters,
            generated_at=generated_at,
            columns=[
                PdfColumn(
                    title=columns[i].title,
                    numeric=is_numeric(columns[i]),
                    width=columns[i].pdf_width or PDF_WIDTHS[columns[i].kind],
                )
                for i in shown
            ],
            rows=([cells[i] for i in shown] for cells in (text_cells(columns, row, zone) for row in rows)),
            chart=chart,
        )

    return render


async def _filters(
    session: AsyncSession, body: ReportExport, scope: Scope, zone: ZoneInfo, *, clock: Clock
) -> list[tuple[str, str]]:
    def local(instant: datetime) -> str:
        try:
            return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        except OverflowError:  # an instant at the very end of year 9999 has no local time east of UTC
            return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

    campaign = "All"
    if body.campaign_id is not None:
        campaign = (await campaigns_service.get_campaign(session, body.campaign_id, clock=clock)).campaign.name
    agents = "All" if scope.agent_ids is None else f"{len(scope.agent_ids)} selected"
    return [
        ("Period", f"{local(body.from_)} to {local(body.to)} ({zone.key})"),
        ("Campaign", campaign),
        ("Agents", agents),
    ]


async def export(
    session: AsyncSession, principal: Principal, body: ReportExport, store: ObjectStore, *, clock: Clock
) -> ReportInline | ReportDownload:
    now = clock.now()
    scope = _scope(principal, body, now)
    zone = ZoneInfo(await tenancy_service.timezone(session, principal.tenant_id))
    filters = await _filters(session, body, scope, zone, clock=clock)  # also the campaign's 404
    columns = COLUMNS[body.report_type]
    render = _renderer(body, columns, zone, filters, now.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"))
    total = await repository.count(session, body.report_type, scope)
    if total <= INLINE_ROWS:
        rows = await repository.rows(session, body.report_type, scope)
        return ReportInline(
            report_type=body.report_type,
            format=body.format,
            rows=len(rows),
            data=await _inline(body, columns, rows, render),
        )
    return await _download(session, principal, body, scope, store, render, now=now)


async def _inline(
    body: ReportExport,
    columns: Sequence[Column],
    rows: Sequence[Row],
    render: Callable[[BinaryIO, Iterable[Row], BarChart | None], int],
) -> object:
    if body.format is ReportFormat.json:
        return [json_object(columns, row) for row in rows]
    buffer = io.BytesIO()
    await asyncio.to_thread(render, buffer, rows, _chart(body.report_type, rows))
    if body.format is ReportFormat.csv:
        return buffer.getvalue().decode("utf-8")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


async def _download(
    session: AsyncSession,
    principal: Principal,
    body: ReportExport,
    scope: Scope,
    store: ObjectStore,
    render: Callable[[BinaryIO, Iterable[Row], BarChart | None], int],
    *,
    now: datetime,
) -> ReportDownload:
    """Over 10,000 rows: written row by row to a temporary file, stored, and signed for 30 minutes. (Only
    call_detail grows this large: the summaries have a row per campaign, agent or disposition.)"""
    extension = body.format.value
    key = f"reports/{principal.tenant_id}/{now:%Y/%m/%d}/{new_id()}.{extension}"
    filename = f"{body.report_type.value}_{now:%Y-%m-%d}.{extension}"
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="engage-report-") as folder:
        path = Path(folder) / filename
        rows = ThreadRows(loop, repository.batches(session, body.report_type, scope))

        def write() -> int:
            with path.open("wb") as out:
                return render(out, rows, None)

        written = await asyncio.to_thread(write)
        try:
            await store.put_file(key, path, content_type=CONTENT_TYPES[body.format])
            signed = await store.presign_get(
                key, expires_in=timedelta(seconds=DOWNLOAD_URL_SECONDS), now=now, filename=filename
            )
        except StorageError as exc:
            raise ExportStorageUnavailable("The report could not be stored for download; try again shortly.") from exc
    log.info("report.exported", report_type=body.report_type.value, format=extension, rows=written)
    return ReportDownload(
        report_type=body.report_type,
        format=body.format,
        rows=written,
        download_url=signed.url,
        expires_at=signed.expires_at,
    )
