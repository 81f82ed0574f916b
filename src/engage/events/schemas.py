"""Wire types of the event stream: the catalogue of event types and the stream token."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from engage.consents import service as consents
from engage.core.schemas import StrictModel
from engage.webhooks.schemas import WebhookEventType

# Every event the outbox carries (`core.outbox.record_event`'s callers): the webhooks' catalogue and the consent
# events, which no subscription may ask for but the stream shows.
EVENT_TYPES = (
    *(event.value for event in WebhookEventType),
    consents.EVENT_RECORDED,
    consents.EVENT_WITHDRAWN,
)


# The families a `types` filter may name as `<family>.*`: `call`, `agent`, `campaign`, `dnc`, `consent`.
FAMILIES = tuple(dict.fromkeys(event.split(".", 1)[0] for event in EVENT_TYPES))
TYPES_DESCRIPTION = (
    "Only these event types, comma-separated: a type of the catalogue ("
    + ", ".join(EVENT_TYPES)
    + ") or a family as `<family>.*` ("
    + ", ".join(f"{family}.*" for family in FAMILIES)
    + "). Absent: every type."
)


class StreamTokenRead(StrictModel):
    token: str = Field(description="Opens one stream as `GET /v1/events/stream?token=…`; accepted nowhere else")
    expires_at: datetime = Field(description="After this instant the token opens no stream")
    expires_in: int = Field(ge=0, description="Seconds until `expires_at`")
