"""The live event stream as tenant B: while A's users work (real requests writing A's events through the outbox),
B's stream of every role carries B's events only; and B cannot resume from one of A's event ids (the same 400 as an
id that never existed), so no replay reaches A's past. tests/events/test_isolation.py covers events written
straight to the outbox; this drives them through A's API."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

from engage.core.ids import new_id
from engage.core.principal import Role

from ...events.conftest import Record, Serve
from ...problems import PROBLEM_BASE, without_instance
from .world import TenantData


async def test_the_streams_of_tenant_b_carry_none_of_tenant_as_events(
    serve: Serve, record: Record, a: TenantData, b: TenantData
) -> None:
    """One stream per role of B, open while A works; B's marker, naming B's agent (so even the agent's stream
    carries it), is the first event each of them receives."""
    async with serve() as live, AsyncExitStack() as streams:
        opened = {role: await streams.enter_async_context(live.stream(headers=b.staff.headers(role))) for role in Role}
        await a.everything()  # campaign, contacts, DNC, consent, agent state, compliance check, ... of A
        marker = await record(b.staff.tenant, "agent.state_changed", {"agent_id": str(b.staff.agent.id)})

        first = {role: (await sse.events(1))[0] for role, sse in opened.items()}

    for role, message in first.items():
        assert message.id == str(marker.id), role
        assert message.data is not None
        assert json.loads(message.data)["tenant_id"] == str(b.tenant_id), role
        assert a.leaks(message.data) == [], role


async def test_tenant_b_cannot_resume_from_an_event_of_tenant_a(
    serve: Serve, record: Record, a: TenantData, b: TenantData
) -> None:
    """The same 400 as for an id that never existed, for each role: no replay of A's past, no oracle."""
    theirs = await record(a.staff.tenant, "dnc.added", {"phone": "+971500000001"})
    answers = {}
    async with serve() as live:
        for role in Role:
            for last_event_id in (str(theirs.id), str(new_id())):
                headers = {**b.staff.headers(role), "Last-Event-ID": last_event_id}
                async with live.stream(headers=headers) as sse:
                    answers[role, last_event_id] = (sse.response.status_code, sse.response.json())

    for role in Role:
        status, body = answers[role, str(theirs.id)]
        unknown = [answer for (who, event_id), answer in answers.items() if who is role and event_id != str(theirs.id)]
        assert status == 400, (role, body)
        assert body["type"] == PROBLEM_BASE + "invalid-last-event-id"
        assert without_instance(body) == without_instance(unknown[0][1]), role
