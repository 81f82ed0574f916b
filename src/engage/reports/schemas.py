"""Wire format of POST /v1/reports/export (seed "Reports"): the request, and the two answers — the report inline
(up to 10,000 rows) or a download URL valid 30 minutes (over 10,000)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, Field

from engage.core.schemas import ReadModel, StrictModel

MAX_RANGE = timedelta(days=366)
MAX_AGENT_IDS = 500
# The seed: "For large exports (over 10,000 rows), a download URL is returned instead of inline data. The URL is
# valid for 30 minutes."
INLINE_ROWS = 10_000
DOWNLOAD_URL_SECONDS = 30 * 60


class ReportType(StrEnum):
    call_detail = "call_detail"
    campaign_summary = "campaign_summary"
    agent_performance = "agent_performance"
    disposition_summary = "disposition_summary"


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"
    pdf = "pdf"


class ReportExport(StrictModel):
    report_type: ReportType
    format: ReportFormat
    from_: AwareDatetime = Field(alias="from", description="Report start (ISO-8601 UTC), inclusive")
    to: AwareDatetime = Field(
        description="Report end (ISO-8601 UTC), inclusive; not before `from`, within 366 days of it"
    )
    campaign_id: uuid.UUID | None = None
    agent_ids: Annotated[list[uuid.UUID], Field(max_length=MAX_AGENT_IDS)] | None = None
    csv_bom: bool = Field(
        default=False, description="CSV only: start with a UTF-8 byte-order mark, so Excel reads Arabic names right"
    )


_SEED_CSV = (
    "Agent Name,Calls,Connected,Talk Time (min),Avg Handle Time,Disposition Rate\r\n"
    "Layla Ahmed,42,28,156.2,223,66.7%\r\n"
)


class ReportInline(ReadModel):
    report_type: ReportType
    format: ReportFormat
    rows: int
    data: Any = Field(
        description="json: the rows as objects; csv: the CSV text; pdf: the PDF file, base64-encoded",
        examples=[_SEED_CSV],
    )


class ReportDownload(ReadModel):
    report_type: ReportType
    format: ReportFormat
    rows: int
    download_url: str
    expires_at: datetime
