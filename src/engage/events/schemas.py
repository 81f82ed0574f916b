"""Wire types of the event stream: the catalogue of event types and the stream token."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from engage.core.schemas import StrictModel


class EventType(StrEnum):
    """Every event the outbox carries (`core.outbox.record_event`'s callers): the webhooks' catalogue and the
    consent events."""

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
    consent_recorded = "consent.recorded"
    consent_withdrawn = "consent.withdrawn"


# The families a `types` filter may name as `<family>.*`: `call`, `agent`, `campaign`, `dnc`, `consent`.
FAMILIES = tuple(dict.fromkeys(event.value.split(".", 1)[0] for event in EventType))
TYPES_DESCRIPTION = (
    "Only these event types, comma-separated: a type of the catalogue ("
    + ", ".join(event.value for event in EventType)
    + ") or a family as `<family>.*` ("
    + ", ".join(f"{family}.*" for family in FAMILIES)
    + "). Absent: every type."
)


class StreamTokenRead(StrictModel):
    token: str = Field(description="Opens one stream as `GET /v1/events/stream?token=…`; accepted nowhere else")
    expires_at: datetime = Field(description="After this instant the token opens no stream")
    expires_in: int = Field(ge=0, description="Seconds until `expires_at`")
