"""Fixtures for the users and teams API: two tenants with an admin each, and a read-back of what the
database holds (through the app role, scoped to one tenant, as the service itself sees it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.users.models import Team, User


@dataclass
class Db:
    """Reads the stored rows after a request, in a transaction of its own."""

    runtime: Runtime

    async def users(self, tenant_id: uuid.UUID) -> Sequence[User]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(User).order_by(User.id))).all()

    async def user(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return await session.get(User, user_id)

    async def count_users(self, tenant_id: uuid.UUID) -> int:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    async def teams(self, tenant_id: uuid.UUID) -> Sequence[Team]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(Team).order_by(Team.id))).all()


@pytest.fixture
def db(runtime: Runtime) -> Db:
    return Db(runtime)
