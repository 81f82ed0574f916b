"""A SIP user names one phone on the one switch every tenant shares: the switch's registrations are keyed by SIP user
alone, and the dialer rings an agent at `user/<sip_user>`. Were two tenants allowed the same SIP user, B's agent
would show A's phone as its own (B's /v1/agents/sip-registered naming when A's phone registered and what it runs)
and B's calls would be bridged to A's agent. So a SIP user is unique in the installation: B can neither create nor
rename an agent to A's, and what B reads never shows A's registration."""

from __future__ import annotations

import httpx

from engage.core.db import unscoped_transaction
from engage.core.principal import Role
from engage.dialer import repository as dialer_repository

from ...problems import assert_problem
from .world import TenantData


async def test_tenant_b_cannot_take_the_sip_user_of_tenant_as_agent_nor_see_its_phone(
    client: httpx.AsyncClient, a: TenantData, b: TenantData
) -> None:
    theirs = a.staff.agent.sip_user
    assert theirs is not None
    # A's phone registers, as the switch reports it to the dialer worker.
    async with unscoped_transaction(a.runtime.sessions) as session:
        await dialer_repository.record_registration(
            session, theirs, registered=True, at=a.clock.now(), user_agent=f"Phone of {a.mark}"
        )
    new_agent = {
        "email": f"new-{b.mark}@globex.test",
        "password": "a long enough secret",
        "full_name": "New Agent",
        "role": "agent",
        "sip_user": theirs,
    }

    created = await client.post("/v1/users", json=new_agent, headers=b.staff.headers())
    renamed = await client.patch(f"/v1/users/{b.staff.agent.id}", json={"sip_user": theirs}, headers=b.staff.headers())

    assert_problem(created, 409, "sip-user-taken")
    assert_problem(renamed, 409, "sip-user-taken")
    for path in ("/v1/agents/sip-registered", "/v1/agents/state"):
        for role in (Role.admin, Role.supervisor):
            response = await client.get(path, headers=b.staff.headers(role))
            assert response.status_code == 200, response.text
            assert a.leaks(response.text) == [], (path, role)
            assert theirs not in response.text
