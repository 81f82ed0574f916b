"""GET /v1/agents/me/call: the call on an agent's desk. The live call with its contact and campaign; after the
hang-up, the same call until it is dispositioned (for at most an hour); nothing for another agent, another
tenant or a supervisor."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from engage.calls.models import Call
from engage.campaigns.schemas import DialingMode
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.dialer import service as dialer_service
from engage.telephony.events import LegOutcome
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .control_support import OPEN_IN_DUBAI, Desk, move_to, random_ae_mobile

pytestmark = pytest.mark.usefixtures("open_hours", "registries")

NOTHING = {"call": None, "contact": None, "campaign": None}


@pytest.fixture
def open_hours(clock: ManualClock) -> ManualClock:
    move_to(clock, OPEN_IN_DUBAI)
    return clock


@pytest.fixture
async def desk(runtime: Runtime, factory: Factory, client: httpx.AsyncClient, tenant: Tenant) -> Desk:
    return Desk(runtime, factory, client, tenant)


async def on_desk(desk: Desk, agent: User) -> dict[str, object]:
    response = await desk.client.get("/v1/agents/me/call", headers=desk.factory.headers(agent))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def dial_a_contact(desk: Desk, agent: User) -> tuple[uuid.UUID, str]:
    """A preview campaign whose first contact the agent dials: (campaign id, call id)."""
    campaign_id = await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True)
    headers = desk.factory.headers(agent)
    held = (await desk.client.get("/v1/agents/me/preview", headers=headers)).json()
    dialled = await desk.client.post(
        "/v1/agents/me/preview/dial", headers=headers, json={"contact_id": held["contact"]["id"]}
    )
    assert dialled.status_code == 202, dialled.text
    return campaign_id, str(dialled.json()["call_id"])


async def hang_up(desk: Desk, call_id: str) -> None:
    now, leg = desk.runtime.clock.now(), uuid.UUID(call_id)
    async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
        await dialer_service.mark_answered(session, leg, machine=False, now=now)
    async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
        await dialer_service.mark_bridged(session, leg, now=now, recording_path=None)
    async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
        await dialer_service.end_call(session, leg, outcome=LegOutcome.completed, cause="NORMAL_CLEARING", now=now)


async def test_an_agent_without_a_call_has_nothing_on_the_desk(desk: Desk) -> None:
    agent = await desk.agent()

    assert await on_desk(desk, agent) == NOTHING


async def test_the_live_call_comes_with_its_contact_and_campaign(desk: Desk) -> None:
    agent = await desk.agent()
    campaign_id, call_id = await dial_a_contact(desk, agent)
    contact = (await desk.contacts(campaign_id))[0]

    body = await on_desk(desk, agent)

    call, shown, campaign = body["call"], body["contact"], body["campaign"]
    assert isinstance(call, dict)
    assert isinstance(shown, dict)
    assert isinstance(campaign, dict)
    assert (call["id"], call["agent_id"], call["status"]) == (call_id, str(agent.id), "dialing")
    assert (shown["id"], shown["phone"], shown["first_name"], shown["last_name"]) == (
        str(contact.id),
        contact.phone,
        "C0",
        "Saleh",
    )
    assert shown["custom_fields"] == {}
    assert campaign["id"] == str(campaign_id)


async def test_an_ended_call_stays_until_it_is_dispositioned(desk: Desk) -> None:
    agent = await desk.agent()
    _, call_id = await dial_a_contact(desk, agent)
    await hang_up(desk, call_id)

    waiting = await on_desk(desk, agent)
    dispositioned = await desk.client.post(
        f"/v1/calls/{call_id}/disposition", headers=desk.factory.headers(agent), json={"disposition": "sale"}
    )
    after = await on_desk(desk, agent)

    assert isinstance(waiting["call"], dict)
    assert (waiting["call"]["id"], waiting["call"]["status"]) == (call_id, "completed")
    assert dispositioned.status_code == 200, dispositioned.text
    assert after == NOTHING


async def test_a_live_call_comes_before_a_later_call_that_ended(desk: Desk) -> None:
    agent = await desk.agent()
    _, live_id = await dial_a_contact(desk, agent)
    later = desk.runtime.clock.now() + timedelta(seconds=1)
    ended = Call(
        id=new_id(),
        tenant_id=desk.tenant.id,
        agent_id=agent.id,
        contact_phone=random_ae_mobile(),
        direction="outbound",
        origin="manual",
        status="completed",
        abandoned=False,
        started_at=later,
        bridged_at=later,
        ended_at=later,
    )
    async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
        session.add(ended)

    body = await on_desk(desk, agent)

    assert isinstance(body["call"], dict)
    assert body["call"]["id"] == live_id


async def test_a_call_that_never_reached_the_agent_waits_for_no_disposition(desk: Desk) -> None:
    agent = await desk.agent()
    _, call_id = await dial_a_contact(desk, agent)
    async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
        await dialer_service.end_call(
            session, uuid.UUID(call_id), outcome=LegOutcome.no_answer, cause="NO_ANSWER", now=desk.runtime.clock.now()
        )

    assert await on_desk(desk, agent) == NOTHING


async def test_an_undispositioned_call_leaves_the_desk_after_an_hour(desk: Desk, clock: ManualClock) -> None:
    agent = await desk.agent()
    _, call_id = await dial_a_contact(desk, agent)
    await hang_up(desk, call_id)

    clock.advance(timedelta(hours=1, seconds=1).total_seconds())

    assert await on_desk(desk, agent) == NOTHING


async def test_a_colleagues_call_is_not_on_my_desk(desk: Desk) -> None:
    agent = await desk.agent()
    colleague = await desk.agent()
    await dial_a_contact(desk, agent)

    assert await on_desk(desk, colleague) == NOTHING


async def test_another_tenants_agent_sees_nothing_of_this_tenants_call(desk: Desk, factory: Factory) -> None:
    agent = await desk.agent()
    await dial_a_contact(desk, agent)
    stranger = await factory.user(await factory.tenant(name="Other"), Role.agent)

    response = await desk.client.get("/v1/agents/me/call", headers=factory.headers(stranger))

    assert response.status_code == 200, response.text
    assert response.json() == NOTHING


@pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
async def test_only_agents_have_a_desk(desk: Desk, factory: Factory, tenant: Tenant, role: Role) -> None:
    user = await factory.user(tenant, role)

    response = await desk.client.get("/v1/agents/me/call", headers=factory.headers(user))

    assert_problem(response, 403, "not-an-agent")
