"""Wire format of /v1/dnc (seed: "Compliance & DNC"; issue 3 point 7)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from engage.core.schemas import ReadModel, StrictModel


class DncSource(StrEnum):
    """How a number came onto the list."""

    manual = "manual"
    agent_disposition = "agent_disposition"
    # `import` is a Python keyword; the API string is still "import".
    import_ = "import"


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class DncAdd(StrictModel):
    """Numbers in E.164, international or local format (read in the tenant's country). The per-request
    limit is checked by the service (a 413 problem), not here, so that it is not a 400 among field errors."""

    phones: list[str] = Field(min_length=1, examples=[["+971509876543", "0501234567"]])
    reason: Reason | None = Field(default=None, examples=["Customer requested no contact"])


class DncAddResult(ReadModel):
    added: int
    duplicates_skipped: int
    invalid_phones: int


class DncRead(ReadModel):
    id: uuid.UUID
    phone: str
    source: DncSource
    reason: str | None
    # The adding user's full name (seed); null when no user added it or that user no longer exists.
    added_by: str | None
    added_at: datetime
