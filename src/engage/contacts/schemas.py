"""Wire format of /v1/campaigns/{id}/contacts and /v1/contacts/search (seed: Contacts)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from engage.core.schemas import ReadModel, StrictModel

# Most contacts per upload (seed: "max 10,000"); more is refused whole, see errors.TooManyContacts.
MAX_UPLOAD = 10_000

Name = Annotated[str, StringConstraints(max_length=200)]
FieldKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# Scalars only: custom fields are shown to agents and searched as text, so nesting has no meaning here.
# `StrictStr`-like exactness is not needed: JSON has no other scalar that pydantic could coerce.
# Stored as `jsonb`: `StrictModel` refuses NUL and unpaired surrogates in keys and values, NaN and Infinity (no
# jsonb number) and integers beyond BIGINT, naming `contacts.<row>.custom_fields.<key>`; the upload stores nothing.
FieldValue = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None


class ContactStatus(StrEnum):
    pending = "pending"
    dialing = "dialing"
    connected = "connected"
    completed = "completed"
    failed = "failed"
    dnc = "dnc"


class ContactIn(StrictModel):
    # Any string: one that is not a valid number is counted in `invalid_phones`, not a 400 for the batch.
    phone: str = Field(examples=["+971501234567"])
    first_name: Name | None = Field(default=None, examples=["Ahmad"])
    last_name: Name | None = Field(default=None, examples=["Al Rashid"])
    custom_fields: dict[FieldKey, FieldValue] = Field(
        default_factory=dict, max_length=100, examples=[{"account_number": "ACC-00421"}]
    )


class ContactUpload(StrictModel):
    # The 10,000 limit is checked by the service (a 413 problem), not here (it would be a 400).
    contacts: list[ContactIn] = Field(min_length=1)


class UploadResult(BaseModel):
    """The seed's counts. `imported`, `duplicates_skipped`, `dnc_filtered` and `invalid_phones` partition the
    request: `imported` are the new dialable contacts, `dnc_filtered` the new ones stored as `dnc`."""

    imported: int
    duplicates_skipped: int
    dnc_filtered: int
    invalid_phones: int
    total_in_campaign: int


class ContactRead(ReadModel):
    id: uuid.UUID
    phone: str
    first_name: str | None
    last_name: str | None
    status: ContactStatus
    attempts: int
    last_call_at: datetime | None
    disposition: str | None
    custom_fields: dict[str, FieldValue]


class ContactSearch(StrictModel):
    q: str = Field(min_length=1, max_length=200, examples=["Ahmad"])
    campaign_id: uuid.UUID | None = None
    limit: int = Field(default=20, ge=1, le=100)


class ContactHit(ReadModel):
    id: uuid.UUID
    phone: str
    first_name: str | None
    last_name: str | None
    campaign_id: uuid.UUID
    campaign_name: str
    status: ContactStatus


class SearchResult(BaseModel):
    items: list[ContactHit]
    total: int
