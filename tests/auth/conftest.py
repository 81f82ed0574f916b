"""Fixtures for sign-in tests: one clock for everything (the throttle's counter reads the test's
`ManualClock`, so `clock.advance` moves token expiry and throttle windows together), a tenant with an admin,
and a read-back of the stored refresh tokens and users."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from engage.auth.models import RefreshToken
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.ratelimit import InMemoryCounter
from engage.core.runtime import Runtime
from engage.users.models import User

from ..factories import PASSWORD


@pytest.fixture
def runtime(runtime: Runtime, clock: ManualClock) -> Runtime:
    """The suite's runtime with a counter on the test's clock: no test waits for a throttle window."""
    return dataclasses.replace(runtime, counter=InMemoryCounter(monotonic=lambda: clock.now().timestamp()))


@dataclass
class Db:
    """Reads what is stored, in a transaction of its own, through the app role scoped to one tenant."""

    runtime: Runtime

    async def refresh_tokens(self, tenant_id: uuid.UUID) -> Sequence[RefreshToken]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(RefreshToken).order_by(RefreshToken.issued_at))).all()

    async def refresh_rows_containing(self, tenant_id: uuid.UUID, raw: str) -> int:
        """How many of the tenant's refresh_tokens rows hold `raw` anywhere, as text or as bytes."""
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            count = await session.scalar(
                text(
                    "SELECT count(*) FROM refresh_tokens AS r"
                    " WHERE strpos(r::text, :raw) > 0 OR position(convert_to(:raw, 'UTF8') IN r.token_hash) > 0"
                ),
                {"raw": raw},
            )
        return int(count or 0)

    async def user(self, user: User) -> User:
        async with tenant_transaction(self.runtime.sessions, user.tenant_id) as session:
            stored = await session.get(User, user.id)
        assert stored is not None
        return stored


@pytest.fixture
def db(runtime: Runtime) -> Db:
    return Db(runtime)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password})


async def login_ok(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> dict[str, Any]:
    response = await login(client, user.email, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
