"""GET /v1/agents/sip-registered: the tenant's active agents whose SIP user the switch reports registered, out of
all its active agents (seed "Agents")."""

from __future__ import annotations

from datetime import timedelta

import httpx

from engage.core.clock import ManualClock, isoformat_z
from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Db, sip_user


class TestSipRegistered:
    async def test_the_seeds_body_lists_registered_agents_and_counts_every_active_agent(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, supervisor: User, db: Db, clock: ManualClock
    ) -> None:
        up, down, silent, gone = sip_user("agent_1001"), sip_user("agent_1002"), sip_user("1003"), sip_user("1004")
        registered = await factory.user(tenant, Role.agent, sip_user=up)
        await factory.user(tenant, Role.agent, sip_user=down)
        await factory.user(tenant, Role.agent, sip_user=silent)  # the switch never mentioned it
        await factory.user(tenant, Role.agent)  # no SIP user: never registered
        deactivated = await factory.user(tenant, Role.agent, sip_user=gone)
        await db.deactivate(deactivated)
        since = clock.now() - timedelta(hours=2)
        await db.register(up, at=since, user_agent="SIP.js/0.21.2")
        await db.register(down, registered=False, at=clock.now())
        await db.register(gone, at=since)

        response = await client.get("/v1/agents/sip-registered", headers=factory.headers(supervisor))

        assert response.status_code == 200, response.text
        assert response.json() == {
            "registered": [
                {
                    "agent_id": str(registered.id),
                    "sip_user": up,
                    "registered_at": isoformat_z(since),
                    "user_agent": "SIP.js/0.21.2",
                }
            ],
            "total_registered": 1,
            "total_agents": 4,
        }

    async def test_another_tenants_registered_agents_are_neither_listed_nor_counted(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        supervisor: User,
        agent: User,
        other_agent: User,
        other_tenant: Tenant,
        db: Db,
        clock: ManualClock,
    ) -> None:
        theirs = sip_user("theirs")
        await factory.user(other_tenant, Role.agent, sip_user=theirs)
        await db.register(theirs, at=clock.now())

        response = await client.get("/v1/agents/sip-registered", headers=factory.headers(supervisor))

        assert response.json() == {"registered": [], "total_registered": 0, "total_agents": 1}

    async def test_supervisors_are_never_counted_as_agents(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, admin: User, db: Db, clock: ManualClock
    ) -> None:
        name = sip_user("supervisor_phone")
        await factory.user(tenant, Role.supervisor, sip_user=name)
        await db.register(name, at=clock.now())

        response = await client.get("/v1/agents/sip-registered", headers=factory.headers(admin))

        assert response.json() == {"registered": [], "total_registered": 0, "total_agents": 0}

    async def test_agents_may_not_read_it(self, client: httpx.AsyncClient, factory: Factory, agent: User) -> None:
        response = await client.get("/v1/agents/sip-registered", headers=factory.headers(agent))

        assert_problem(response, 403, "forbidden")

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/agents/sip-registered"), 401, "unauthorized")
