"""Wire format of /v1/auth/* — exactly the seed's fields, plus the rotated `refresh_token` on refresh."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from engage.core.principal import Role
from engage.core.schemas import StrictModel


class LoginRequest(StrictModel):
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)] = Field(examples=["agent@acme.com"])
    # Bounded so that argon2 is never fed megabytes by an anonymous caller.
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024, strip_whitespace=False)] = Field(
        examples=["correct horse battery staple"]
    )


class SessionUser(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    tenant_id: uuid.UUID


class LoginResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(examples=[86400])
    user: SessionUser


class SessionTenant(BaseModel):
    id: uuid.UUID
    country: str = Field(description="ISO 3166-1 alpha-2: where a number typed in local format is read")
    timezone: str = Field(description="IANA zone: where the organisation's day starts", examples=["Asia/Dubai"])


class SessionRead(BaseModel):
    """GET /v1/auth/me: who the token names and the organisation's place, so a console can greet the user, pick
    its views by role and show times in the organisation's zone."""

    user: SessionUser
    tenant: SessionTenant
    # A browser's clock may be minutes off (or the server's shifted, under the simulator's clock): a console
    # measures "time in state" and "today" from this instant, not from its own clock.
    now: datetime = Field(description="The server's clock when it answered")


class RefreshRequest(StrictModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class RefreshResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(examples=[86400])
    # Refresh tokens rotate on every use: store this one and discard the one you sent.
    refresh_token: str


class LogoutRequest(StrictModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]
