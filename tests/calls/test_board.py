"""GET /v1/agents/state's live fields: the call each agent is on, and its calls and talk time of the tenant's day
(seed "Agents")."""

from __future__ import annotations

import httpx

from engage.calls.models import CallStatus
from engage.tenancy.models import Tenant
from engage.users.models import User

from .conftest import Calls, at


async def board(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, dict[str, object]]:
    response = await client.get("/v1/agents/state", headers=headers)
    assert response.status_code == 200, response.text
    return {entry["id"]: entry for entry in response.json()["agents"]}


class TestBoardLiveFields:
    async def test_current_call_id_is_the_call_the_dialer_put_the_agent_on(
        self,
        client: httpx.AsyncClient,
        supervisor_headers: dict[str, str],
        tenant: Tenant,
        agent: User,
        colleague: User,
        calls: Calls,
    ) -> None:
        call = await calls.add(
            tenant, started_at=at("2026-06-12T09:59:00Z"), status=CallStatus.bridged, agent_id=agent.id
        )
        await calls.agent_on_call(agent, call.id)
        await calls.agent_on_call(colleague, None, state="available")

        entries = await board(client, supervisor_headers)

        assert (entries[str(agent.id)]["state"], entries[str(agent.id)]["current_call_id"]) == ("on_call", str(call.id))
        assert entries[str(colleague.id)]["current_call_id"] is None

    async def test_calls_and_talk_time_today_count_the_agents_calls_of_the_tenants_local_day(
        self,
        client: httpx.AsyncClient,
        supervisor_headers: dict[str, str],
        tenant: Tenant,
        other_tenant: Tenant,
        agent: User,
        colleague: User,
        calls: Calls,
    ) -> None:
        # The agent today (Dubai): 01:00 local, a no_answer, and a live call whose talk time is not known yet.
        await calls.add(tenant, started_at=at("2026-06-11T21:00:00Z"), agent_id=agent.id, talk_time_seconds=120)
        await calls.add(tenant, started_at=at("2026-06-12T08:00:00Z"), agent_id=agent.id, talk_time_seconds=95)
        await calls.add(tenant, started_at=at("2026-06-12T09:00:00Z"), agent_id=agent.id, status=CallStatus.no_answer)
        await calls.add(tenant, started_at=at("2026-06-12T09:59:00Z"), agent_id=agent.id, status=CallStatus.bridged)
        # Yesterday in Dubai (23:30 local), and a call of no agent: neither counts.
        await calls.add(tenant, started_at=at("2026-06-11T19:30:00Z"), agent_id=agent.id, talk_time_seconds=600)
        await calls.add(tenant, started_at=at("2026-06-12T08:00:00Z"), talk_time_seconds=600)
        await calls.add(tenant, started_at=at("2026-06-12T08:00:00Z"), agent_id=colleague.id, talk_time_seconds=30)
        await calls.add(other_tenant, started_at=at("2026-06-12T08:00:00Z"), talk_time_seconds=600)

        entries = await board(client, supervisor_headers)

        figures = {
            agent_id: (entry["calls_today"], entry["talk_time_today_seconds"]) for agent_id, entry in entries.items()
        }
        assert figures == {str(agent.id): (4, 215), str(colleague.id): (1, 30)}

    async def test_an_agent_without_calls_today_has_zeros(
        self, client: httpx.AsyncClient, supervisor_headers: dict[str, str], tenant: Tenant, agent: User, calls: Calls
    ) -> None:
        await calls.add(tenant, started_at=at("2026-06-11T19:00:00Z"), agent_id=agent.id, talk_time_seconds=60)

        entries = await board(client, supervisor_headers)

        entry = entries[str(agent.id)]
        assert (entry["calls_today"], entry["talk_time_today_seconds"], entry["current_call_id"]) == (0, 0, None)
