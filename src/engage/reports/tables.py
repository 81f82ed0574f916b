"""What each report holds: its columns, in order, with the JSON key, the title a person reads, and the kind of
value, which says how a cell is written in JSON (ISO-8601 UTC instants, numbers) and in CSV and PDF (instants in
the tenant's time zone, percentages with `%`, minutes with one decimal).

The repository selects, for each report type, exactly these columns in this order; the writers never look at a
value's Python type to decide its format, only at the column's kind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from engage.core.clock import isoformat_z

from .schemas import ReportType


class Kind(StrEnum):
    text = "text"
    id = "id"
    integer = "integer"  # a count
    seconds = "seconds"  # an integer number of seconds
    minutes = "minutes"  # seconds from the query, minutes with one decimal in every format
    percent = "percent"  # 0-100 with one decimal; `%` in CSV and PDF
    rate = "rate"  # a number with one decimal
    instant = "instant"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    kind: Kind
    # Its share of a PDF page's width, where its kind's default does not fit what it holds.
    pdf_width: float | None = None


Value = str | int | float | Decimal | datetime | uuid.UUID | None
Row = Sequence[Value]

_T, _I, _C, _S, _M, _P, _R, _A = (
    Kind.text, Kind.id, Kind.integer, Kind.seconds, Kind.minutes, Kind.percent, Kind.rate, Kind.instant,
)  # fmt: skip

COLUMNS: dict[ReportType, tuple[Column, ...]] = {
    # The seed's call fields, with the campaign's and the agent's names beside their ids.
    ReportType.call_detail: (
        Column("id", "Call ID", _I),
        Column("campaign_id", "Campaign ID", _I),
        Column("campaign_name", "Campaign", _T),
        Column("agent_id", "Agent ID", _I),
        Column("agent_name", "Agent", _T),
        Column("contact_phone", "Phone", _T, pdf_width=1.6),
        Column("direction", "Direction", _T, pdf_width=1.0),
        Column("status", "Status", _T),
        Column("disposition", "Disposition", _T),
        Column("duration_seconds", "Duration (s)", _S, pdf_width=1.15),
        Column("talk_time_seconds", "Talk Time (s)", _S, pdf_width=1.15),
        Column("started_at", "Started", _A),
        Column("answered_at", "Answered", _A),
        Column("ended_at", "Ended", _A),
        Column("recording_id", "Recording ID", _I),
    ),
    ReportType.campaign_summary: (
        Column("campaign_id", "Campaign ID", _I),
        Column("campaign_name", "Campaign", _T),
        Column("dialled", "Dialled", _C),
        Column("connected", "Connected", _C),
        Column("abandon_rate", "Abandon Rate", _P),
        Column("contacts_completed", "Contacts Completed", _C, pdf_width=1.0),
        Column("contacts_failed", "Contacts Failed", _C, pdf_width=0.9),
        Column("contacts_remaining", "Contacts Remaining", _C, pdf_width=1.0),
        Column("avg_talk_time_seconds", "Avg Talk Time (s)", _S, pdf_width=1.0),
        Column("calls_per_hour", "Calls per Hour", _R),
    ),
    # The seed's example columns first, in its order and with its titles.
    ReportType.agent_performance: (
        Column("agent_name", "Agent Name", _T),
        Column("calls", "Calls", _C),
        Column("connected", "Connected", _C),
        Column("talk_time_minutes", "Talk Time (min)", _M),
        Column("avg_handle_time_seconds", "Avg Handle Time", _S),
        Column("disposition_rate", "Disposition Rate", _P),
        Column("available_minutes", "Available (min)", _M),
        Column("on_call_minutes", "On Call (min)", _M),
        Column("wrap_up_minutes", "Wrap-up (min)", _M),
        Column("break_minutes", "Break (min)", _M),
        Column("agent_id", "Agent ID", _I),
    ),
    ReportType.disposition_summary: (
        Column("campaign_id", "Campaign ID", _I),
        Column("campaign_name", "Campaign", _T),
        Column("disposition", "Disposition", _T),
        Column("count", "Calls", _C),
        Column("share", "Share", _P),
    ),
}

TITLES: dict[ReportType, str] = {
    ReportType.call_detail: "Call detail",
    ReportType.campaign_summary: "Campaign summary",
    ReportType.agent_performance: "Agent performance",
    ReportType.disposition_summary: "Disposition summary",
}

_ONE_DECIMAL = Decimal("0.1")


def _one_decimal(value: Value) -> Decimal:
    return Decimal(str(value)).quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP)


def json_value(kind: Kind, value: Value) -> object:
    """A cell as JSON has it: instants ISO-8601 UTC, ids as strings, numbers as numbers."""
    if value is None:
        return None
    if kind is Kind.instant and isinstance(value, datetime):
        return isoformat_z(value)
    if kind is Kind.id:
        return str(value)
    if kind in (Kind.integer, Kind.seconds):
        return int(value)  # type: ignore[arg-type]
    if kind is Kind.minutes:
        return float(_one_decimal(Decimal(str(value)) / 60))
    if kind in (Kind.percent, Kind.rate):
        return float(_one_decimal(value))
    return str(value)


def text_value(kind: Kind, value: Value, zone: ZoneInfo) -> str:
    """A cell as CSV and PDF show it: instants in the tenant's time zone, percentages with `%`."""
    if value is None:
        return ""
    if kind is Kind.instant and isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    if kind in (Kind.integer, Kind.seconds):
        return str(int(value))  # type: ignore[arg-type]
    if kind is Kind.minutes:
        return str(_one_decimal(Decimal(str(value)) / 60))
    if kind is Kind.percent:
        return f"{_one_decimal(value)}%"
    if kind is Kind.rate:
        return str(_one_decimal(value))
    return str(value)
