"""Wire format of /v1/webhooks: subscriptions, their deliveries, the test ping.

The signing secret appears only in `WebhookCreated` and `SecretRotated`, the responses of the two calls that
make one; `WebhookRead` (lists, reads, updates) never carries it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from engage.core.openapi import omit_or_set
from engage.core.schemas import ReadModel, StrictModel


class WebhookEventType(StrEnum):
    """What a subscription may ask for: the seed's event catalogue ("Webhooks" → "Event Catalog") and
    `dnc.removed`, the pair of `dnc.added`."""

    call_initiated = "call.initiated"
    call_answered = "call.answered"
    call_completed = "call.completed"
    call_abandoned = "call.abandoned"
    call_compliance_blocked = "call.compliance_blocked"
    agent_state_changed = "agent.state_changed"
    campaign_started = "campaign.started"
    campaign_paused = "campaign.paused"
    campaign_completed = "campaign.completed"
    dnc_added = "dnc.added"
    dnc_removed = "dnc.removed"


class DeliveryStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


# Column widths of migration 20261127_0930: url VARCHAR(2048), description VARCHAR(500).
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
# A caller's own signing secret (DESIGN.md §2): at least 32 characters, visible ASCII (no spaces or control
# characters, which a receiver's configuration would mangle), at most the column's 128.
SECRET_MIN_LENGTH = 32
SECRET_MAX_LENGTH = 128
Secret = Annotated[
    str,
    StringConstraints(min_length=SECRET_MIN_LENGTH, max_length=SECRET_MAX_LENGTH, pattern=r"^[\x21-\x7e]+$"),
]

_VALUES = frozenset(event.value for event in WebhookEventType)
_CATALOGUE = ", ".join(event.value for event in WebhookEventType)


def _checked_events(value: object) -> object:
    """Non-empty, unique, each from the catalogue. Checked before the enum conversion so that the 400 names
    `events` itself and lists the catalogue, rather than pointing at `events.3` with pydantic's enum text."""
    if not isinstance(value, list):
        return value  # pydantic's own type error
    if not value:
        raise ValueError("must name at least one event type")
    unknown = [item for item in value if not (isinstance(item, str) and item in _VALUES)]
    if unknown:
        raise ValueError(f"unknown event type(s) {', '.join(map(str, unknown))}; the catalogue is {_CATALOGUE}")
    if len(set(value)) != len(value):
        raise ValueError("each event type may be listed only once")
    return value


EVENTS_DESCRIPTION = f"Event types to receive: non-empty, no repeats, from the catalogue ({_CATALOGUE})"


class WebhookCreate(StrictModel):
    url: Url = Field(examples=["https://hooks.example.com/engage"], description="https, to a public address")
    events: list[WebhookEventType] = Field(
        description=EVENTS_DESCRIPTION,
        examples=[["call.completed", "dnc.added"]],
        json_schema_extra={"minItems": 1, "uniqueItems": True},
    )
    description: Description | None = None
    secret: Secret | None = Field(
        default=None,
        description=(
            f"Your own signing secret, {SECRET_MIN_LENGTH}-{SECRET_MAX_LENGTH} visible ASCII characters; "
            "without one Engage generates it. Either way it is returned once, in this response."
        ),
    )

    @field_validator("events", mode="before")
    @classmethod
    def _events(cls, value: object) -> object:
        return _checked_events(value)


class WebhookUpdate(StrictModel):
    """Only the fields sent change. `description: null` clears it; `url`, `events`, `is_active` may not be null."""

    model_config = ConfigDict(json_schema_extra=omit_or_set("url", "events", "is_active"))

    url: Url | None = None
    events: list[WebhookEventType] | None = Field(
        default=None, description=EVENTS_DESCRIPTION, json_schema_extra={"minItems": 1, "uniqueItems": True}
    )
    description: Description | None = None
    is_active: bool | None = None

    @field_validator("events", mode="before")
    @classmethod
    def _events(cls, value: object) -> object:
        return _checked_events(value)

    @field_validator("url", "events", "is_active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only on values sent (defaults are not validated), so an explicit null lands here.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class WebhookRead(ReadModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="The signing secret; shown only in this response (and on rotation)")


class SecretRotated(StrictModel):
    secret: str
    previous_secret_expires_at: datetime = Field(
        description="Until then every request is also signed with the previous secret"
    )


class DeliveryRead(ReadModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class WebhookTestResult(StrictModel):
    delivered: bool = Field(description="The receiver answered 2xx in time")
    status_code: int | None = Field(description="The receiver's status; null when none came (refused, timed out)")
    latency_ms: int
    error: str | None
