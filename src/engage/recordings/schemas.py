"""Wire format of /v1/recordings (seed "Recordings"): a recording as the list shows it, the signed playback URL,
and the tenant's retention setting. Instants are UTC ISO-8601. No body carries a storage key or a file path."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from engage.core.schemas import ReadModel, StrictModel

# The seed: "Playback URLs are signed and expire after 1 hour".
PLAY_URL_SECONDS = 3600
MAX_RETENTION_DAYS = 3650


class RecordingRead(ReadModel):
    # The seed's fields, in its order.
    id: uuid.UUID
    call_id: uuid.UUID
    agent_id: uuid.UUID | None
    agent_name: str | None = Field(description="The agent's name when the call was recorded")
    campaign_id: uuid.UUID | None
    contact_phone: str
    duration_seconds: int
    format: str = Field(examples=["wav"])
    size_bytes: int
    recorded_at: datetime = Field(description="When the recording started (the call was bridged to the agent)")


class PlaybackUrl(ReadModel):
    """GET /v1/recordings/{id}/play: the seed's body. `url` is fresh on every call and works without a token
    until `expires_at`."""

    id: uuid.UUID
    url: str
    expires_at: datetime
    format: str
    duration_seconds: int


class RetentionRead(ReadModel):
    retention_days: int | None = Field(
        description="Recordings older than this many days are deleted from storage; null keeps them until deleted"
    )


class RetentionUpdate(StrictModel):
    # Strict: `true` or `"30"` is refused rather than read as a number of days.
    retention_days: int | None = Field(strict=True, ge=1, le=MAX_RETENTION_DAYS, examples=[90])
