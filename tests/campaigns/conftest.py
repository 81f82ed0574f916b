"""Fixtures for /v1/campaigns: two tenants with an admin each; builders for CLI groups and campaigns (through
the real services), contacts and agent states (ORM rows, as the contacts and agents domains will store them);
a read-back of stored rows and outbox events (through the app role, scoped to one tenant)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from engage.agents.models import AgentState
from engage.campaigns import service as campaigns
from engage.campaigns.models import Campaign, CampaignAgent
from engage.campaigns.schemas import CampaignAgentsAssign, CampaignCreate, CampaignStatus, DialingMode
from engage.cli_groups import service as cli_groups
from engage.cli_groups.schemas import CliGroupCreate
from engage.contacts.models import Contact
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.outbox import OutboxEvent
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory


@dataclass
class Db:
    runtime: Runtime

    async def campaigns(self, tenant_id: uuid.UUID) -> Sequence[Campaign]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(Campaign).order_by(Campaign.id))).all()

    async def campaign(self, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> Campaign | None:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return await session.get(Campaign, campaign_id)

    async def assigned(self, tenant_id: uuid.UUID, campaign_id: uuid.UUID) -> set[uuid.UUID]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            query = select(CampaignAgent.agent_id).where(CampaignAgent.campaign_id == campaign_id)
            return set((await session.scalars(query)).all())

    async def events(self, tenant_id: uuid.UUID, prefix: str = "campaign.") -> Sequence[OutboxEvent]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            query = select(OutboxEvent).where(OutboxEvent.event_type.startswith(prefix)).order_by(OutboxEvent.id)
            return (await session.scalars(query)).all()

    async def count_campaigns(self, tenant_id: uuid.UUID) -> int:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return int(await session.scalar(select(func.count()).select_from(Campaign)) or 0)


@dataclass
class Builder:
    runtime: Runtime
    factory: Factory

    async def cli_group(self, tenant: Tenant) -> uuid.UUID:
        # A number unique per group: CLI numbers are unique within a tenant.
        number = f"+97150{secrets.randbelow(10_000_000):07d}"
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            group = await cli_groups.create_group(
                session,
                tenant.id,
                CliGroupCreate(name=f"Group {secrets.token_hex(4)}", numbers=[number]),
                clock=self.runtime.clock,
            )
            return group.id

    async def campaign(
        self,
        tenant: Tenant,
        status: CampaignStatus = CampaignStatus.draft,
        *,
        cli_group_id: uuid.UUID | None = None,
        **fields: Any,
    ) -> uuid.UUID:
        """A campaign in `status`, reached through the real transitions (a contact and a logged-in agent are
        added first when it has to start)."""
        body = {"name": "Q3 Insurance Renewal", "dialing_mode": DialingMode.progressive} | fields
        group = cli_group_id or await self.cli_group(tenant)
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            view = await campaigns.create_campaign(
                session, tenant.id, CampaignCreate(cli_group_id=group, **body), clock=self.runtime.clock
            )
        campaign_id = view.campaign.id
        if status is not CampaignStatus.draft:
            await self.contacts(tenant, campaign_id, 1)
            await self.agent(tenant, campaign_id, state="available")
            await self.run(tenant, campaigns.start_campaign, campaign_id)
        if status is CampaignStatus.paused:
            await self.run(tenant, campaigns.pause_campaign, campaign_id)
        if status is CampaignStatus.completed:
            await self.run(tenant, campaigns.complete_campaign, campaign_id)
        return campaign_id

    async def run(self, tenant: Tenant, transition: Any, campaign_id: uuid.UUID) -> None:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            await transition(session, campaign_id, clock=self.runtime.clock)

    async def contacts(
        self, tenant: Tenant, campaign_id: uuid.UUID, count: int, *, status: str = "pending", attempts: int = 0
    ) -> list[uuid.UUID]:
        rows = [
            Contact(
                id=new_id(),
                tenant_id=tenant.id,
                campaign_id=campaign_id,
                phone=f"+97150{secrets.randbelow(10_000_000):07d}",
                first_name="Layla",
                last_name="Ahmed",
                custom_fields={},
                status=status,
                attempts=attempts,
                last_call_at=None,
                next_attempt_at=None,
                disposition=None,
                created_at=self.runtime.clock.now(),
            )
            for _ in range(count)
        ]
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            session.add_all(rows)
        return [row.id for row in rows]

    async def agent(
        self,
        tenant: Tenant,
        campaign_id: uuid.UUID | None = None,
        *,
        state: str | None = None,
        full_name: str = "Omar Haddad",
    ) -> User:
        """An agent user, assigned to the campaign when one is given, in `state` when one is given (no
        agent_states row: offline)."""
        agent = await self.factory.user(tenant, Role.agent, full_name=full_name)
        if campaign_id is not None:
            async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
                await campaigns.assign_agents(
                    session, campaign_id, CampaignAgentsAssign(agent_ids=[agent.id]), clock=self.runtime.clock
                )
        if state is not None:
            await self.set_state(tenant, agent.id, state)
        return agent

    async def set_state(self, tenant: Tenant, agent_id: uuid.UUID, state: str) -> None:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            await session.merge(
                AgentState(
                    tenant_id=tenant.id,
                    agent_id=agent_id,
                    state=state,
                    state_since=self.runtime.clock.now(),
                    reason=None,
                )
            )


@pytest.fixture
def db(runtime: Runtime) -> Db:
    return Db(runtime)


@pytest.fixture
def build(runtime: Runtime, factory: Factory) -> Builder:
    return Builder(runtime, factory)


@pytest.fixture
async def supervisor_headers(factory: Factory, tenant: Tenant) -> dict[str, str]:
    return factory.headers(await factory.user(tenant, Role.supervisor))


@pytest.fixture
async def agent_headers(factory: Factory, tenant: Tenant) -> dict[str, str]:
    return factory.headers(await factory.user(tenant, Role.agent))


@pytest.fixture
async def other_headers(factory: Factory, other_tenant: Tenant) -> dict[str, str]:
    return factory.headers(await factory.user(other_tenant, Role.admin))
