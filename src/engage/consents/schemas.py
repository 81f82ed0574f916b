"""Wire format of /v1/consents (DESIGN: "consent records the compliance `consent` rule reads").

Instants are aware datetimes in, UTC with a `Z` out; a naive datetime is refused (STYLE 6).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from engage.core.schemas import ReadModel, StrictModel


class ConsentScope(StrEnum):
    """What a consent lets the tenant call about; `all` covers every scope."""

    marketing = "marketing"
    service = "service"
    all = "all"


# The `source` column is VARCHAR(64): where the consent was captured (web_form, ivr, agent, crm, ...).
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ConsentCreate(StrictModel):
    """`phone` in E.164, international or local format (read in the tenant's country); the service
    normalises it and checks the instants against the clock, so a bad one is still a 400 naming its field."""

    phone: str = Field(examples=["+971509876543", "0509876543"])
    scope: ConsentScope = ConsentScope.marketing
    source: Source = Field(examples=["web_form"])
    granted_at: AwareDatetime | None = Field(default=None, description="Default: now. At most 5 minutes ahead.")
    expires_at: AwareDatetime | None = Field(default=None, description="After granted_at; null: never expires")


class ConsentWithdraw(StrictModel):
    withdrawn_at: AwareDatetime | None = Field(
        default=None, description="Default: now. At most 5 minutes ahead, not before granted_at."
    )


class ConsentRead(ReadModel):
    id: uuid.UUID
    phone: str
    scope: ConsentScope
    source: str
    granted_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None
    # The id of the user who recorded it; null once that user is deleted.
    recorded_by: uuid.UUID | None
    created_at: datetime
