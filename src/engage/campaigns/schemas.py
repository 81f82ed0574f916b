"""Wire format of /v1/campaigns: the seed's fields and defaults plus DESIGN.md §2's `wrap_up_seconds`,
`abandon_rate_target` and `calling_window`; the transition bodies of start, pause and complete; assigned agents.

Rates and ratios are stored as NUMERIC (exact to two decimals) and sent as JSON numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from engage.core.openapi import omit_or_set
from engage.core.schemas import ReadModel, StrictModel

from .models import Campaign


class CampaignStatus(StrEnum):
    draft = "draft"
    active = "active"
    paused = "paused"
    completed = "completed"


class DialingMode(StrEnum):
    preview = "preview"
    progressive = "progressive"
    power = "power"
    predictive = "predictive"


@cache
def _iana_zones() -> frozenset[str]:
    # `localtime` and `Factory` are files in the system zone folder, not IANA zone names.
    return frozenset(available_timezones() - {"localtime", "Factory"})


def _iana_zone(value: str) -> str:
    if value not in _iana_zones():
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Dubai)")
    return value


CampaignName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MaxAttempts = Annotated[int, Field(ge=1, le=20)]
# Upper bounds keep values inside the INTEGER columns and inside reason: a retry a week later, a wrap-up of
# an hour, are already far beyond any contact centre's practice.
RetryDelayMinutes = Annotated[int, Field(ge=1, le=10_080)]
WrapUpSeconds = Annotated[int, Field(ge=1, le=3_600)]
# NUMERIC(4, 2) and NUMERIC(5, 2) columns: more than two decimals would be rounded silently, so they are refused.
DialRatio = Annotated[Decimal, Field(ge=Decimal("1.0"), le=Decimal("5.0"), decimal_places=2)]
AbandonRateTarget = Annotated[Decimal, Field(gt=Decimal(0), le=Decimal(100), decimal_places=2)]
Timezone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), AfterValidator(_iana_zone)]
# Ofcom's silent-call policy: a number abandoned is not called again for 72 h; at most 30 days.
AbandonLockoutHours = Annotated[int, Field(ge=0, le=720)]
# A file the switch can play (its sounds folder or an absolute path): no spaces, quotes, braces, commas or `$`.
AbandonMessage = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256, pattern=r"^[^\s'\"{}$,\\]+$")
]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class CallingWindow(StrictModel):
    """Local to the callee (`HH:MM`, 24 h), intersected with the legal calling hours by the compliance gate."""

    start: ClockTime = Field(examples=["09:00"])
    end: ClockTime = Field(examples=["18:00"])

    @model_validator(mode="after")
    def _start_before_end(self) -> CallingWindow:
        # Legal calling hours never span midnight in the jurisdictions served, so neither may the window.
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self

    @classmethod
    def of(cls, start: time | None, end: time | None) -> CallingWindow | None:
        if start is None or end is None:
            return None
        return cls(start=start.strftime("%H:%M"), end=end.strftime("%H:%M"))

    def times(self) -> tuple[time, time]:
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


class CampaignCreate(StrictModel):
    name: CampaignName = Field(examples=["Q3 Insurance Renewal"])
    dialing_mode: DialingMode = Field(examples=["progressive"])
    cli_group_id: uuid.UUID
    max_attempts: MaxAttempts = 3
    retry_delay_minutes: RetryDelayMinutes = 60
    dial_ratio: DialRatio = Decimal("1.5")
    timezone: Timezone = "Asia/Dubai"
    wrap_up_seconds: WrapUpSeconds = 15
    abandon_rate_target: AbandonRateTarget = Decimal("3.0")
    abandon_lockout_hours: AbandonLockoutHours = 72
    # Played to a callee no agent could take within 2 s, before hanging up; none: hang up at once.
    abandon_message: AbandonMessage | None = None
    # None: the legal calling hours alone decide.
    calling_window: CallingWindow | None = None


# The fields a PATCH may omit or set but never null (only `abandon_message` and `calling_window` take null).
_NOT_NULLABLE = (
    "name",
    "dialing_mode",
    "cli_group_id",
    "max_attempts",
    "retry_delay_minutes",
    "dial_ratio",
    "timezone",
    "wrap_up_seconds",
    "abandon_rate_target",
    "abandon_lockout_hours",
)


class CampaignUpdate(StrictModel):
    """Only the fields sent change; `calling_window` may be set to null to remove it."""

    model_config = ConfigDict(json_schema_extra=omit_or_set(*_NOT_NULLABLE))

    name: CampaignName | None = None
    dialing_mode: DialingMode | None = None
    cli_group_id: uuid.UUID | None = None
    max_attempts: MaxAttempts | None = None
    retry_delay_minutes: RetryDelayMinutes | None = None
    dial_ratio: DialRatio | None = None
    timezone: Timezone | None = None
    wrap_up_seconds: WrapUpSeconds | None = None
    abandon_rate_target: AbandonRateTarget | None = None
    abandon_lockout_hours: AbandonLockoutHours | None = None
    abandon_message: AbandonMessage | None = None
    calling_window: CallingWindow | None = None

    # A field validator (not a model validator) so that the 400 names each offending field in `errors`.
    @field_validator(*_NOT_NULLABLE, mode="before")
    @classmethod
    def _only_calling_window_may_be_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return value


@dataclass(frozen=True, slots=True)
class CampaignCounters:
    """The seed's live counters of a campaign: contact counts kept by the database (`campaign_stats`), the abandon
    rate over the last 24 h of hourly call figures (`campaign_hourly`)."""

    total_contacts: int = 0
    contacted: int = 0
    connected: int = 0
    abandon_rate: float = 0.0


class CampaignRead(ReadModel):
    id: uuid.UUID
    name: str
    status: CampaignStatus
    dialing_mode: DialingMode
    cli_group_id: uuid.UUID
    max_attempts: int
    retry_delay_minutes: int
    dial_ratio: float
    timezone: str
    wrap_up_seconds: int
    abandon_rate_target: float
    abandon_lockout_hours: int
    abandon_message: str | None
    calling_window: CallingWindow | None
    total_contacts: int
    contacted: int = Field(description="Contacts dialled at least once")
    connected: int = Field(description="Contacts that reached an agent (status connected or completed)")
    abandon_rate: float = Field(description="Percent of answered calls abandoned")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    paused_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, campaign: Campaign, counters: CampaignCounters) -> CampaignRead:
        return cls(
            id=campaign.id,
            name=campaign.name,
            status=CampaignStatus(campaign.status),
            dialing_mode=DialingMode(campaign.dialing_mode),
            cli_group_id=campaign.cli_group_id,
            max_attempts=campaign.max_attempts,
            retry_delay_minutes=campaign.retry_delay_minutes,
            dial_ratio=float(campaign.dial_ratio),
            timezone=campaign.timezone,
            wrap_up_seconds=campaign.wrap_up_seconds,
            abandon_rate_target=float(campaign.abandon_rate_target),
            abandon_lockout_hours=campaign.abandon_lockout_hours,
            abandon_message=campaign.abandon_message,
            calling_window=CallingWindow.of(campaign.calling_window_start, campaign.calling_window_end),
            total_contacts=counters.total_contacts,
            contacted=counters.contacted,
            connected=counters.connected,
            abandon_rate=counters.abandon_rate,
            created_at=campaign.created_at,
            updated_at=campaign.updated_at,
            started_at=campaign.started_at,
            paused_at=campaign.paused_at,
            completed_at=campaign.completed_at,
        )

    @staticmethod
    def body_of_record(record: Mapping[str, Any], abandon_rate: float) -> dict[str, Any]:
        """The JSON body `of` would give, from a record of the listing (a row of `campaigns` with its counters),
        without building or validating a model: each value converted as `of` converts it (a test holds the two
        equal)."""
        start, end = record["calling_window_start"], record["calling_window_end"]
        return {
            "id": record["id"],
            "name": record["name"],
            "status": record["status"],
            "dialing_mode": record["dialing_mode"],
            "cli_group_id": record["cli_group_id"],
            "max_attempts": record["max_attempts"],
            "retry_delay_minutes": record["retry_delay_minutes"],
            "dial_ratio": float(record["dial_ratio"]),
            "timezone": record["timezone"],
            "wrap_up_seconds": record["wrap_up_seconds"],
            "abandon_rate_target": float(record["abandon_rate_target"]),
            "abandon_lockout_hours": record["abandon_lockout_hours"],
            "abandon_message": record["abandon_message"],
            "calling_window": None
            if start is None or end is None
            else {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
            "total_contacts": int(record["total_contacts"]),
            "contacted": int(record["contacted"]),
            "connected": int(record["connected"]),
            "abandon_rate": abandon_rate,
            "created_at": record["created_at"],
            "updated_at": record["updated_at"],
            "started_at": record["started_at"],
            "paused_at": record["paused_at"],
            "completed_at": record["completed_at"],
        }


class CampaignStarted(ReadModel):
    id: uuid.UUID
    status: CampaignStatus
    started_at: datetime
    message: str = "Campaign dialing started."


class CampaignPaused(ReadModel):
    id: uuid.UUID
    status: CampaignStatus
    paused_at: datetime


class CampaignCompleted(ReadModel):
    id: uuid.UUID
    status: CampaignStatus
    completed_at: datetime


# Enough for the largest floor one campaign dials with; bounds the work of one request.
MAX_AGENTS_PER_REQUEST = 500


class CampaignAgentsAssign(StrictModel):
    agent_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_AGENTS_PER_REQUEST)


class CampaignAgentRead(ReadModel):
    id: uuid.UUID
    full_name: str
    email: str
    assigned_at: datetime


class CampaignAgentsAssigned(ReadModel):
    """The agents the request named, each with when it was first assigned; `added` counts the new ones."""

    added: int
    already_assigned: int
    items: list[CampaignAgentRead]
