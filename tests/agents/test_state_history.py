"""agent_state_history: the database appends a row whenever an agent's state (or its start) changes, whoever
changes it, so reports can sum the time in each state (migration 20261207_1100)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from engage.agents.models import AgentStateHistory
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory


async def _history(runtime: Runtime, tenant: Tenant, agent: User) -> list[tuple[str, str]]:
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        rows = await session.execute(
            select(AgentStateHistory.state, AgentStateHistory.started_at)
            .where(AgentStateHistory.agent_id == agent.id)
            .order_by(AgentStateHistory.id)
        )
        return [(state, started_at.isoformat()) for state, started_at in rows.all()]


async def test_every_state_change_is_appended_with_its_start_and_a_reason_alone_is_not(
    client: httpx.AsyncClient,
    factory: Factory,
    runtime: Runtime,
    tenant: Tenant,
    agent: User,
    other_tenant: Tenant,
    clock: ManualClock,
) -> None:
    me = factory.headers(agent)
    await client.post("/v1/agents/me/state", headers=me, json={"state": "available"})
    before = await _history(runtime, tenant, agent)

    clock.advance(60)
    await client.post("/v1/agents/me/state", headers=me, json={"state": "break", "reason": "Short break"})
    await client.post("/v1/agents/me/state", headers=me, json={"state": "break", "reason": "Prayer"})
    clock.advance(60)
    await client.post("/v1/agents/me/state", headers=me, json={"state": "available"})

    assert before[-1] == ("available", "2026-06-12T10:00:00+00:00")
    assert (await _history(runtime, tenant, agent))[len(before) :] == [
        ("break", "2026-06-12T10:01:00+00:00"),
        ("available", "2026-06-12T10:02:00+00:00"),
    ]
    assert await _history(runtime, other_tenant, agent) == [], "row-level security keeps the history in its tenant"
