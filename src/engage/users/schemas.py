"""Wire format of /v1/users and /v1/teams (DESIGN.md §2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from engage.core.openapi import omit_or_set
from engage.core.principal import Role
from engage.core.schemas import ReadModel, StrictModel

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]
# 12+ characters (NIST SP 800-63B allows 8; contact-centre accounts reach call recordings, so more);
# the upper bound keeps argon2 from being fed megabytes.
# Kept exactly as typed: `StrictModel` strips every string, but login (auth.schemas) does not, so a
# stripped password with surrounding spaces could never be typed in again.
Password = Annotated[str, StringConstraints(min_length=12, max_length=256, strip_whitespace=False)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SipUser = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
TeamName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UserCreate(StrictModel):
    email: Email = Field(examples=["layla.ahmed@acme.com"])
    password: Password
    full_name: FullName = Field(examples=["Layla Ahmed"])
    role: Role = Field(examples=["agent"])
    sip_user: SipUser | None = Field(default=None, examples=["agent_1001"])
    team_id: uuid.UUID | None = None


class UserUpdate(StrictModel):
    """Only the fields sent change; `sip_user` and `team_id` may be set to null to clear them."""

    model_config = ConfigDict(json_schema_extra=omit_or_set("full_name", "role", "password", "is_active"))

    full_name: FullName | None = None
    role: Role | None = None
    password: Password | None = None
    sip_user: SipUser | None = None
    team_id: uuid.UUID | None = None
    is_active: bool | None = None

    # A field validator (not a model validator) so that the 400 names each offending field in `errors`.
    # It runs only for fields that were sent, never on the defaults.
    @field_validator("full_name", "role", "password", "is_active")
    @classmethod
    def _only_clearable_fields_may_be_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return value


class UserRead(ReadModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    sip_user: str | None
    team_id: uuid.UUID | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class TeamCreate(StrictModel):
    name: TeamName = Field(examples=["Renewals — Dubai"])


class TeamRead(ReadModel):
    id: uuid.UUID
    name: str
    created_at: datetime
