"""Wire format of /v1/compliance (seed: "POST /v1/compliance/check"; issue 4)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from engage.core.schemas import ReadModel, StrictModel

Jurisdiction = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]


class ComplianceCheck(StrictModel):
    """`phone` in E.164 (a local format is read in the tenant's country); `cli`, beyond the seed: the caller ID
    the call would present, checked against the tenant's CLI groups (else the campaign's group is)."""

    phone: str = Field(min_length=1, max_length=40, examples=["+971501234567"])
    campaign_id: uuid.UUID | None = None
    jurisdiction: Jurisdiction | None = Field(default=None, examples=["AE"])
    cli: str | None = Field(default=None, min_length=1, max_length=40, examples=["+97142345678"])


class ComplianceDecision(ReadModel):
    """The seed's shape: `blocking_rule` and `blocking_reason` only when blocked. Beyond the seed:
    `jurisdiction`, `reasons` (why each check came out as it did) and, only when blocked by `calling_hours`,
    `next_permitted_at` (the first instant calls are permitted again; null if none within 14 days)."""

    allowed: bool
    rule_version: str | None
    audit_ref: str
    checks: dict[str, str]
    blocking_rule: str | None = None
    blocking_reason: str | None = None
    jurisdiction: str | None
    reasons: dict[str, str]
    next_permitted_at: datetime | None = Field(default=None, examples=["2026-11-30T05:00:00Z"])


class AuditRecord(ReadModel):
    audit_ref: str
    decided_at: datetime
    channel: str
    actor_user_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    phone: str
    jurisdiction: str | None
    rule_version: str | None
    allowed: bool
    blocking_rule: str | None
    blocking_reason: str | None
    checks: dict[str, Any]
    request: dict[str, Any]
    hash: str
    prev_hash: str | None


class WindowOut(ReadModel):
    start: str
    end: str


class RuleSetOut(ReadModel):
    jurisdiction: str
    rule_version: str
    effective_from: date
    confirmed: bool
    source: str
    timezone: str | None
    calling_hours: dict[str, Any]
    ramadan: dict[str, Any] | None
    holidays: dict[str, Any]
    registry: dict[str, Any]
    consent: dict[str, Any]
    frequency_cap: dict[str, Any] | None


class RuleSetList(ReadModel):
    items: list[RuleSetOut]
