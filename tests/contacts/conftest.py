"""Fixtures for the contacts API: tenants with a campaign each (inserted with the ORM, as the campaigns and
CLI-group services are not this domain's), DNC entries, and a read-back of the stored contacts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from engage.campaigns.models import Campaign
from engage.contacts.models import Contact
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.ids import new_id
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.dnc.models import DncEntry
from engage.tenancy import service as tenancy
from engage.tenancy.models import Tenant

from ..factories import Factory


@dataclass
class Db:
    """Writes what other domains own (campaigns, DNC entries) and reads back stored contacts."""

    runtime: Runtime

    async def tenant(self, country: str) -> Tenant:
        async with unscoped_transaction(self.runtime.sessions) as session:
            return await tenancy.create(
                session,
                name=f"Tenant {country}",
                timezone="Asia/Dubai",
                country=country,
                rate_limit_per_minute=2000,
                clock=self.runtime.clock,
            )

    async def campaign(self, tenant: Tenant, *, name: str = "Q3 Insurance Renewal", status: str = "draft") -> Campaign:
        """A campaign made by the real services, then put straight into `status` (uploads only read the
        status; reaching it through start/pause/complete would need agents and contacts first)."""
        campaign_id = await Factory(self.runtime).campaign(tenant, name=name)
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None
            campaign.status = status
            return campaign

    async def dnc(self, tenant: Tenant, phone: str) -> None:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            session.add(
                DncEntry(
                    id=new_id(),
                    tenant_id=tenant.id,
                    phone=phone,
                    source="manual",
                    reason=None,
                    added_by=None,
                    added_at=self.runtime.clock.now(),
                )
            )

    async def contacts(self, tenant: Tenant, campaign_id: uuid.UUID) -> Sequence[Contact]:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            return (
                await session.scalars(select(Contact).where(Contact.campaign_id == campaign_id).order_by(Contact.phone))
            ).all()

    async def count(self, tenant: Tenant, campaign_id: uuid.UUID) -> int:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            stored = await session.scalar(
                select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign_id)
            )
            return int(stored or 0)


@pytest.fixture
def db(runtime: Runtime) -> Db:
    return Db(runtime)


@pytest.fixture
async def campaign(db: Db, tenant: Tenant) -> Campaign:
    return await db.campaign(tenant)


@pytest.fixture
async def other_headers(factory: Factory, other_tenant: Tenant) -> dict[str, str]:
    return factory.headers(await factory.user(other_tenant, Role.admin))


@pytest.fixture
async def other_campaign(db: Db, other_tenant: Tenant) -> Campaign:
    return await db.campaign(other_tenant, name="Globex Renewals")
