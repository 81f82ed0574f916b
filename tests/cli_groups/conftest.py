"""Fixtures for /v1/cli-groups: two tenants with an admin each, a builder that goes through the real service,
and a read-back of the stored rows (through the app role, scoped to one tenant, as the service sees them)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from engage.cli_groups import service as cli_groups
from engage.cli_groups.models import CliGroup, CliNumber
from engage.cli_groups.schemas import CliGroupCreate
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy import service as tenancy
from engage.tenancy.models import Tenant

from ..factories import Factory


@dataclass
class Db:
    runtime: Runtime

    async def groups(self, tenant_id: uuid.UUID) -> Sequence[CliGroup]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(CliGroup).order_by(CliGroup.id))).all()

    async def numbers(self, tenant_id: uuid.UUID) -> list[str]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return list((await session.scalars(select(CliNumber.number).order_by(CliNumber.number))).all())


@dataclass
class Groups:
    runtime: Runtime

    async def create(self, tenant: Tenant, *numbers: str, name: str | None = None) -> CliGroup:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            return await cli_groups.create_group(
                session,
                tenant.id,
                CliGroupCreate(name=name or f"Group {secrets.token_hex(3)}", numbers=list(numbers or ["+97142345678"])),
                clock=self.runtime.clock,
            )

    async def tenant_in(self, country: str, timezone: str) -> Tenant:
        async with unscoped_transaction(self.runtime.sessions) as session:
            return await tenancy.create(
                session,
                name=f"Tenant {country}",
                timezone=timezone,
                country=country,
                rate_limit_per_minute=2000,
                clock=self.runtime.clock,
            )


@pytest.fixture
def db(runtime: Runtime) -> Db:
    return Db(runtime)


@pytest.fixture
def groups(runtime: Runtime) -> Groups:
    return Groups(runtime)


@pytest.fixture
async def other_headers(factory: Factory, other_tenant: Tenant) -> dict[str, str]:
    return factory.headers(await factory.user(other_tenant, Role.admin))
