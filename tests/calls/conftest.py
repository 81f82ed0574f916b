"""Fixtures for the calls API: call rows written straight into a tenant's transaction (the dialer owns writing
them; these are test data), campaigns and agents of two tenants, and the instants of the tenant's day.

The clock starts at 2026-06-12T10:00Z, 14:00 in Dubai (UTC+4, the tenants' zone): the tenant's "today" is
2026-06-11T20:00Z up to 2026-06-12T20:00Z.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from engage.agents.models import AgentState
from engage.calls.models import Call, CallOrigin, CallStatus
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory

TODAY_START = datetime(2026, 6, 11, 20, 0, tzinfo=UTC)  # 2026-06-12 00:00 in Dubai


def at(text: str) -> datetime:
    """An instant written as ISO-8601 UTC: `at("2026-06-12T09:00Z")`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Calls:
    """Writes call rows as the dialer would leave them."""

    runtime: Runtime

    async def add(
        self,
        tenant: Tenant,
        *,
        started_at: datetime,
        status: CallStatus = CallStatus.completed,
        campaign_id: uuid.UUID | None = None,
        agent_id: uuid.UUID | None = None,
        **fields: Any,
    ) -> Call:
        call = Call(
            **{
                "id": new_id(),
                "tenant_id": tenant.id,
                "campaign_id": campaign_id,
                "agent_id": agent_id,
                "contact_phone": f"+97150{secrets.randbelow(10_000_000):07d}",
                "direction": "outbound",
                "origin": CallOrigin.dialer.value,
                "status": status.value,
                "abandoned": False,
                "started_at": started_at,
            }
            | fields
        )
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            session.add(call)
        return call

    async def many(self, tenant: Tenant, count: int, *, started_at: datetime) -> list[uuid.UUID]:
        """`count` completed calls in one transaction; their ids in insertion (and id) order."""
        rows = [
            Call(
                id=new_id(),
                tenant_id=tenant.id,
                contact_phone="+971501234567",
                direction="outbound",
                origin=CallOrigin.dialer.value,
                status=CallStatus.completed.value,
                abandoned=False,
                started_at=started_at,
            )
            for _ in range(count)
        ]
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            session.add_all(rows)
        return [row.id for row in rows]

    async def agent_on_call(self, agent: User, call_id: uuid.UUID | None, state: str = "on_call") -> None:
        """The agent's live state as the dialer sets it."""
        async with tenant_transaction(self.runtime.sessions, agent.tenant_id) as session:
            await session.merge(
                AgentState(
                    tenant_id=agent.tenant_id,
                    agent_id=agent.id,
                    state=state,
                    state_since=self.runtime.clock.now(),
                    reason=None,
                    current_call_id=call_id,
                )
            )


@pytest.fixture
def calls(runtime: Runtime) -> Calls:
    return Calls(runtime)


@pytest.fixture
async def campaign(factory: Factory, tenant: Tenant) -> uuid.UUID:
    return await factory.campaign(tenant, name="Renewals")


@pytest.fixture
async def other_campaign(factory: Factory, other_tenant: Tenant) -> uuid.UUID:
    """A campaign of another tenant."""
    return await factory.campaign(other_tenant, name="Their campaign")


@pytest.fixture
async def colleague(factory: Factory, tenant: Tenant) -> User:
    """A second agent of the tenant."""
    return await factory.user(tenant, Role.agent, full_name="Layla Ahmed")
