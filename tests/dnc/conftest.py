"""Fixtures for the tenant DNC list: callers of each role in two tenants, tenants in other countries, campaign
data to watch the listing trigger act on, and a read-back of what the database holds (through the app role,
scoped to one tenant, as the service itself sees it)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from engage.contacts.models import Contact
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.ids import new_id
from engage.core.outbox import OutboxEvent
from engage.core.runtime import Runtime
from engage.dnc.models import DncEntry
from engage.tenancy import service as tenancy
from engage.tenancy.models import Tenant

from ..factories import Factory


@dataclass
class Db:
    """Reads and seeds rows directly, each call in a transaction of its own."""

    runtime: Runtime

    async def entries(self, tenant_id: uuid.UUID) -> Sequence[DncEntry]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(DncEntry).order_by(DncEntry.id))).all()

    async def phones(self, tenant_id: uuid.UUID) -> list[str]:
        return sorted(entry.phone for entry in await self.entries(tenant_id))

    async def count_entries(self, tenant_id: uuid.UUID) -> int:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return int(await session.scalar(select(func.count()).select_from(DncEntry)) or 0)

    async def events(self, tenant_id: uuid.UUID, event_type: str = "dnc.added") -> Sequence[OutboxEvent]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            query = select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id)
            return (await session.scalars(query)).all()

    async def campaign(self, tenant: Tenant, name: str = "Renewals") -> uuid.UUID:
        """A draft campaign with its CLI group, made by the real services."""
        return await Factory(self.runtime).campaign(tenant, name=name)

    async def contact(self, tenant: Tenant, campaign_id: uuid.UUID, phone: str, status: str) -> uuid.UUID:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            contact = Contact(
                id=new_id(),
                tenant_id=tenant.id,
                campaign_id=campaign_id,
                phone=phone,
                first_name="Omar",
                last_name="Haddad",
                custom_fields={},
                status=status,
                attempts=0,
                last_call_at=None,
                next_attempt_at=None,
                disposition=None,
                created_at=self.runtime.clock.now(),
            )
            session.add(contact)
            await session.flush()
            return contact.id

    async def contact_status(self, tenant_id: uuid.UUID, contact_id: uuid.UUID) -> str | None:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            status: str | None = await session.scalar(select(Contact.status).where(Contact.id == contact_id))
            return status


@pytest.fixture
def db(runtime: Runtime) -> Db:
    return Db(runtime)


TenantIn = Callable[[str], Awaitable[Tenant]]


@pytest.fixture
def tenant_in(runtime: Runtime) -> TenantIn:
    """A tenant in another country (the shared factory makes AE tenants only)."""

    async def build(country: str) -> Tenant:
        async with unscoped_transaction(runtime.sessions) as session:
            return await tenancy.create(
                session,
                name=f"Tenant {country}",
                timezone="Asia/Dubai",
                country=country,
                rate_limit_per_minute=2000,
                clock=runtime.clock,
            )

    return build
