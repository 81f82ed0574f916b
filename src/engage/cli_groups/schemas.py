"""Wire format of /v1/cli-groups (DESIGN.md §2): `{name, numbers: [E.164...]}`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from engage.core.schemas import ReadModel, StrictModel

from .models import CliGroup

GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# As typed (E.164, international or local format); the service reads it in the tenant's country. 40 is
# core.phones' own input bound: a longer string is junk whatever its format.
RawNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]

# A group is the pool one campaign presents caller IDs from; a few hundred numbers is already a large pool,
# and the bound keeps one request from inserting an unbounded number of rows.
MAX_NUMBERS = 500


class CliGroupCreate(StrictModel):
    name: GroupName = Field(examples=["Dubai landlines"])
    numbers: list[RawNumber] = Field(min_length=1, max_length=MAX_NUMBERS, examples=[["+97142345678", "042345679"]])


class CliGroupRead(ReadModel):
    id: uuid.UUID
    name: str
    numbers: list[str] = Field(description="E.164, in ascending order")
    created_at: datetime

    @classmethod
    def of(cls, group: CliGroup) -> CliGroupRead:
        return cls(id=group.id, name=group.name, numbers=[n.number for n in group.numbers], created_at=group.created_at)
