"""Fixtures for agent availability: callers of each role in two tenants, agent builders, and a read-back of
what the database holds (through the app role, scoped to one tenant, as the service itself sees it)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import select, update

from engage.agents import service as agents
from engage.agents.models import AgentState, SipRegistration
from engage.agents.schemas import AgentStateChange, SettableStatus
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.outbox import OutboxEvent
from engage.core.principal import Principal, Role
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users import service as users
from engage.users.models import User
from engage.users.schemas import UserUpdate

from ..factories import Factory

EVENT = "agent.state_changed"


@dataclass
class Db:
    """Reads stored rows, and sets up states through the real service, each call in a transaction of its own."""

    runtime: Runtime

    async def states(self, tenant_id: uuid.UUID) -> Sequence[AgentState]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(AgentState).order_by(AgentState.agent_id))).all()

    async def state(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> AgentState | None:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return await session.get(AgentState, agent_id)

    async def events(self, tenant_id: uuid.UUID) -> Sequence[OutboxEvent]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            query = select(OutboxEvent).where(OutboxEvent.event_type == EVENT).order_by(OutboxEvent.id)
            return (await session.scalars(query)).all()

    async def set_state(
        self, agent: User, state: SettableStatus, reason: str | None = None, *, by: User | None = None
    ) -> datetime:
        """Put `agent` in `state` as a test's starting point (the service, not a raw row); return state_since."""
        actor = by or agent
        principal = Principal(user_id=actor.id, tenant_id=actor.tenant_id, role=Role(actor.role))
        async with tenant_transaction(self.runtime.sessions, agent.tenant_id) as session:
            result = await agents.set_state(
                session, principal, agent.id, AgentStateChange(state=state, reason=reason), clock=self.runtime.clock
            )
            return result.state_since

    async def hold_for_call(self, agent: User, state: str) -> None:
        """Put `agent` in a dialer-owned state (`reserved`, `on_call`, `wrap_up`), as the dialer does with a call of
        its own: the row written directly, for no API sets these states."""
        await self.set_state(agent, SettableStatus.available)
        async with tenant_transaction(self.runtime.sessions, agent.tenant_id) as session:
            await session.execute(
                update(AgentState)
                .where(AgentState.agent_id == agent.id)
                .values(state=state, current_call_id=uuid.uuid4() if state != "wrap_up" else None)
            )

    async def register(
        self, sip_user: str, *, registered: bool = True, at: datetime, user_agent: str | None = None
    ) -> None:
        """What the switch says about a SIP user, as the dialer worker records it (platform data, no tenant)."""
        async with unscoped_transaction(self.runtime.sessions) as session:
            await session.merge(
                SipRegistration(
                    sip_user=sip_user,
                    registered=registered,
                    registered_at=at if registered else None,
                    changed_at=at,
                    user_agent=user_agent,
                )
            )

    async def deactivate(self, user: User) -> None:
        async with tenant_transaction(self.runtime.sessions, user.tenant_id) as session:
            admin = Principal(user_id=uuid.uuid4(), tenant_id=user.tenant_id, role=Role.admin)
            await users.update_user(session, admin, user.id, UserUpdate(is_active=False), clock=self.runtime.clock)


@pytest.fixture
def db(runtime: Runtime) -> Db:
    return Db(runtime)


@pytest.fixture
async def supervisor(factory: Factory, tenant: Tenant) -> User:
    return await factory.user(tenant, Role.supervisor, full_name="Sara Supervisor")


@pytest.fixture
async def agent(factory: Factory, tenant: Tenant) -> User:
    return await factory.user(tenant, Role.agent, full_name="Layla Ahmed")


@pytest.fixture
async def other_agent(factory: Factory, other_tenant: Tenant) -> User:
    """An agent of another tenant."""
    return await factory.user(other_tenant, Role.agent, full_name="Omar Khalil")


def sip_user(name: str) -> str:
    """A SIP user name unique to the test run's database: registrations are keyed by SIP user alone."""
    return f"{name}_{secrets.token_hex(4)}"


async def make_agents(factory: Factory, tenant: Tenant, *names: str, team_id: uuid.UUID | None = None) -> list[User]:
    return [await factory.user(tenant, Role.agent, full_name=name, team_id=team_id) for name in names]
