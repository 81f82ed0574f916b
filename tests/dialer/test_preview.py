"""Preview dialling (/v1/agents/me/preview, /dial, /skip): an agent is handed the next contact of its oldest active
preview campaign and holds it for `preview_hold_seconds`; it dials it through the compliance gate or skips it;
a hold that expires returns the contact to everyone. Agents only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from engage.campaigns.models import CampaignHourly
from engage.campaigns.schemas import DialingMode
from engage.compliance.models import AuditEntry
from engage.core.clock import ManualClock, isoformat_z
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem, without_instance
from .conftest import Registries
from .control_support import OPEN_IN_DUBAI, Desk, move_to, random_ae_mobile

pytestmark = pytest.mark.usefixtures("open_hours", "registries")

HOLD_SECONDS = 120  # DialerSettings.preview_hold_seconds' default
NOTHING = {"contact": None, "campaign": None, "reserved_until": None}


@pytest.fixture
def open_hours(clock: ManualClock) -> ManualClock:
    move_to(clock, OPEN_IN_DUBAI)
    return clock


@pytest.fixture
async def desk(runtime: Runtime, factory: Factory, client: httpx.AsyncClient, tenant: Tenant) -> Desk:
    return Desk(runtime, factory, client, tenant)


async def preview(desk: Desk, agent: User) -> dict[str, object]:
    response = await desk.client.get("/v1/agents/me/preview", headers=desk.factory.headers(agent))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def contact_id_of(body: dict[str, object]) -> str:
    contact = body["contact"]
    assert isinstance(contact, dict)
    return str(contact["id"])


async def dial(desk: Desk, agent: User, contact_id: str) -> httpx.Response:
    return await desk.client.post(
        "/v1/agents/me/preview/dial", headers=desk.factory.headers(agent), json={"contact_id": contact_id}
    )


async def skip(desk: Desk, agent: User, contact_id: str) -> httpx.Response:
    return await desk.client.post(
        "/v1/agents/me/preview/skip", headers=desk.factory.headers(agent), json={"contact_id": contact_id}
    )


class TestReserve:
    async def test_the_agent_is_handed_the_first_contact_and_holds_it(self, desk: Desk, clock: ManualClock) -> None:
        agent = await desk.agent()
        phones = [random_ae_mobile(), random_ae_mobile()]
        campaign_id = await desk.campaign(mode=DialingMode.preview, phones=phones, agents=[agent], start=True)
        first = (await desk.contacts(campaign_id))[0]

        body = await preview(desk, agent)

        until = clock.now() + timedelta(seconds=HOLD_SECONDS)
        assert body == {
            "contact": {
                "id": str(first.id),
                "phone": first.phone,
                "first_name": first.first_name,
                "last_name": "Saleh",
                "custom_fields": {},
                "attempts": 0,
                "status": "pending",
            },
            "campaign": {"id": str(campaign_id), "name": "Q3 Insurance Renewal"},
            "reserved_until": isoformat_z(until),
        }
        held = await desk.contact(first.id)
        assert (held.reserved_by, held.reserved_until) == (agent.id, until)

    async def test_asking_again_returns_the_contact_already_held(self, desk: Desk, clock: ManualClock) -> None:
        agent = await desk.agent()
        await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()] * 1, agents=[agent], start=True)
        first = await preview(desk, agent)
        clock.advance(30)

        again = await preview(desk, agent)

        assert again == first

    async def test_a_second_agent_is_handed_another_contact(self, desk: Desk) -> None:
        agent, colleague = await desk.agent(), await desk.agent()
        await desk.campaign(
            mode=DialingMode.preview,
            phones=[random_ae_mobile(), random_ae_mobile()],
            agents=[agent, colleague],
            start=True,
        )

        mine, theirs = await preview(desk, agent), await preview(desk, colleague)

        assert contact_id_of(mine) != contact_id_of(theirs)

    async def test_the_oldest_active_preview_campaign_of_the_agent_comes_first(self, desk: Desk) -> None:
        agent = await desk.agent()
        await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent])  # draft
        await desk.campaign(phones=[random_ae_mobile()], agents=[agent], start=True)  # progressive
        await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[], start=False)
        oldest = await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True)
        await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True)

        body = await preview(desk, agent)

        campaign = body["campaign"]
        assert isinstance(campaign, dict)
        assert campaign["id"] == str(oldest)

    async def test_with_nothing_to_preview_every_member_is_null(self, desk: Desk) -> None:
        agent = await desk.agent()

        assert await preview(desk, agent) == NOTHING

    async def test_an_offline_agent_cannot_preview(self, desk: Desk) -> None:
        agent = await desk.agent(available=False)

        response = await desk.client.get("/v1/agents/me/preview", headers=desk.factory.headers(agent))

        body = assert_problem(response, 409, "agent-not-available")
        assert body["agent_state"] == "offline"

    async def test_an_agent_on_a_break_may_still_look(self, desk: Desk) -> None:
        agent = await desk.agent()
        await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True)
        await desk.set_state(agent, "break")

        assert (await preview(desk, agent))["contact"] is not None

    async def test_an_expired_hold_returns_the_contact_to_everyone(self, desk: Desk, clock: ManualClock) -> None:
        agent, colleague = await desk.agent(), await desk.agent()
        await desk.campaign(
            mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent, colleague], start=True
        )
        mine = await preview(desk, agent)
        assert await preview(desk, colleague) == NOTHING

        clock.advance(HOLD_SECONDS + 1)
        theirs = await preview(desk, colleague)

        assert contact_id_of(theirs) == contact_id_of(mine)
        assert (await desk.contact(contact_id_of(theirs))).reserved_by == colleague.id

    @pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
    async def test_only_agents_preview(self, desk: Desk, factory: Factory, role: Role) -> None:
        headers = factory.headers(await factory.user(desk.tenant, role))
        contact = {"contact_id": str(new_id())}

        responses = [
            await desk.client.get("/v1/agents/me/preview", headers=headers),
            await desk.client.post("/v1/agents/me/preview/dial", headers=headers, json=contact),
            await desk.client.post("/v1/agents/me/preview/skip", headers=headers, json=contact),
        ]

        for response in responses:
            assert_problem(response, 403, "not-an-agent")


class TestDial:
    async def test_the_held_contact_is_dialled_as_the_hopper_would_with_the_agent_reserved(
        self, desk: Desk, clock: ManualClock
    ) -> None:
        agent = await desk.agent()
        campaign_id = await desk.campaign(
            mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True
        )
        contact_id = contact_id_of(await preview(desk, agent))
        clock.advance(10)

        response = await dial(desk, agent, contact_id)

        assert response.status_code == 202, response.text
        body = response.json()
        [audit] = await desk.audit()
        contact = await desk.contact(contact_id)
        assert body == {
            "call_id": body["call_id"],
            "status": "dialing",
            "destination": contact.phone,
            "compliance": {"allowed": True, "rule_version": "2026-06-01", "audit_ref": f"AUD-{audit.seq}"},
        }
        call = await desk.call(body["call_id"])
        assert (call.origin, call.campaign_id, str(call.contact_id), call.agent_id) == (
            "preview",
            campaign_id,
            contact_id,
            agent.id,
        )
        assert (call.placed_at, call.worker_id, call.cli) == (None, None, await desk.campaign_cli(campaign_id))
        assert (audit.channel, audit.actor_user_id, audit.campaign_id) == ("originate", agent.id, campaign_id)
        assert (contact.status, contact.attempts, contact.last_call_at) == ("dialing", 1, clock.now())
        assert (contact.reserved_by, contact.reserved_until) == (None, None)
        state = await desk.state(agent)
        assert (state.state, state.current_call_id) == ("reserved", call.id)
        [initiated] = await desk.events("call.initiated")
        assert initiated.payload["contact_id"] == contact_id
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            hourly = (await session.scalars(select(CampaignHourly.dialled))).all()
        assert list(hourly) == [1]

    async def test_a_contact_on_the_national_registry_is_marked_dnc_and_the_seeds_403_committed(
        self, desk: Desk, registries: Registries
    ) -> None:
        agent = await desk.agent()
        phone = random_ae_mobile()
        await desk.campaign(mode=DialingMode.preview, phones=[phone], agents=[agent], start=True)
        contact_id = contact_id_of(await preview(desk, agent))
        await registries.loaded("AE", phone)

        response = await dial(desk, agent, contact_id)

        body = assert_problem(response, 403, "compliance-blocked")
        [audit] = await desk.audit()
        assert without_instance(body) == {
            "type": "https://engage.broadnet.me/errors/compliance-blocked",
            "title": "Call blocked by compliance",
            "status": 403,
            "detail": "The number is on the TDRA Do Not Call Registry (DNCR).",
            "compliance": {
                "allowed": False,
                "rule": "dnc_national",
                "rule_version": "2026-06-01",
                "audit_ref": f"AUD-{audit.seq}",
            },
        }
        contact = await desk.contact(contact_id)
        assert (contact.status, contact.attempts, contact.reserved_by) == ("dnc", 0, None)
        [blocked] = await desk.events("call.compliance_blocked")
        assert blocked.payload["contact_id"] == contact_id
        assert await desk.calls() == []
        assert (await desk.state(agent)).state == "available"

    async def test_outside_calling_hours_the_contact_waits_for_the_next_permitted_instant(
        self, desk: Desk, clock: ManualClock
    ) -> None:
        agent = await desk.agent()
        await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True)
        move_to(clock, datetime(2026, 11, 29, 17, 59, 30, tzinfo=ZoneInfo("Asia/Dubai")).astimezone(UTC))
        contact_id = contact_id_of(await preview(desk, agent))
        clock.advance(60)  # 18:00:30 in Dubai: the hold runs, the window has closed

        response = await dial(desk, agent, contact_id)

        body = assert_problem(response, 403, "compliance-blocked")
        assert body["compliance"]["rule"] == "calling_hours"
        contact = await desk.contact(contact_id)
        # Monday 30 November, 09:00 in Dubai; no attempt spent.
        assert (contact.status, contact.next_attempt_at, contact.attempts) == (
            "pending",
            datetime(2026, 11, 30, 5, 0, tzinfo=UTC),
            0,
        )
        assert (contact.reserved_by, contact.reserved_until) == (None, None)

    async def test_a_hold_that_expired_cannot_be_dialled(self, desk: Desk, clock: ManualClock) -> None:
        agent = await desk.agent()
        await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True)
        contact_id = contact_id_of(await preview(desk, agent))
        clock.advance(HOLD_SECONDS + 1)

        response = await dial(desk, agent, contact_id)

        assert_problem(response, 409, "preview-not-held")
        assert await desk.count(AuditEntry) == 0
        assert await desk.calls() == []

    async def test_a_contact_held_for_another_agent_cannot_be_dialled(self, desk: Desk) -> None:
        agent, colleague = await desk.agent(), await desk.agent()
        await desk.campaign(
            mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent, colleague], start=True
        )
        contact_id = contact_id_of(await preview(desk, agent))

        response = await dial(desk, colleague, contact_id)

        assert_problem(response, 409, "preview-not-held")
        assert (await desk.contact(contact_id)).reserved_by == agent.id

    async def test_an_agent_whose_phone_is_not_registered_cannot_dial(self, desk: Desk) -> None:
        agent = await desk.agent(registered=False)
        await desk.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True)
        contact_id = contact_id_of(await preview(desk, agent))

        response = await dial(desk, agent, contact_id)

        body = assert_problem(response, 409, "agent-not-available")
        assert body["sip_registered"] is False
        assert (await desk.contact(contact_id)).reserved_by == agent.id

    async def test_a_contact_of_a_paused_campaign_is_not_dialled(
        self, desk: Desk, supervisor_headers: dict[str, str]
    ) -> None:
        agent = await desk.agent()
        campaign_id = await desk.campaign(
            mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True
        )
        contact_id = contact_id_of(await preview(desk, agent))
        paused = await desk.client.post(f"/v1/campaigns/{campaign_id}/pause", headers=supervisor_headers)
        assert paused.status_code == 200, paused.text

        response = await dial(desk, agent, contact_id)

        assert_problem(response, 409, "campaign-not-active")
        assert await preview(desk, agent) == NOTHING

    async def test_an_unknown_contact_is_not_found(self, desk: Desk) -> None:
        agent = await desk.agent()

        assert_problem(await dial(desk, agent, str(new_id())), 404, "contact-not-found")
        assert_problem(await skip(desk, agent, str(new_id())), 404, "contact-not-found")

    async def test_another_tenants_contact_is_not_found(
        self, desk: Desk, runtime: Runtime, factory: Factory, client: httpx.AsyncClient, other_tenant: Tenant
    ) -> None:
        other = Desk(runtime, factory, client, other_tenant)
        their_agent = await other.agent()
        await other.campaign(mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[their_agent], start=True)
        their_contact = contact_id_of(await preview(other, their_agent))
        agent = await desk.agent()

        assert_problem(await dial(desk, agent, their_contact), 404, "contact-not-found")
        assert_problem(await skip(desk, agent, their_contact), 404, "contact-not-found")
        assert (await other.contact(their_contact)).reserved_by == their_agent.id


class TestSkip:
    async def test_a_skipped_contact_is_deferred_and_the_next_preview_is_another(
        self, desk: Desk, clock: ManualClock
    ) -> None:
        agent = await desk.agent()
        await desk.campaign(
            mode=DialingMode.preview, phones=[random_ae_mobile(), random_ae_mobile()], agents=[agent], start=True
        )
        skipped = contact_id_of(await preview(desk, agent))

        response = await skip(desk, agent, skipped)

        deferred_to = clock.now() + timedelta(seconds=300)
        assert response.status_code == 200, response.text
        assert response.json() == {"contact_id": skipped, "next_attempt_at": isoformat_z(deferred_to)}
        contact = await desk.contact(skipped)
        assert (contact.reserved_by, contact.reserved_until, contact.next_attempt_at) == (None, None, deferred_to)
        assert (contact.status, contact.attempts) == ("pending", 0)
        assert contact_id_of(await preview(desk, agent)) != skipped

    async def test_a_contact_not_held_for_the_agent_cannot_be_skipped(self, desk: Desk) -> None:
        agent, colleague = await desk.agent(), await desk.agent()
        await desk.campaign(
            mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent, colleague], start=True
        )
        contact_id = contact_id_of(await preview(desk, agent))

        response = await skip(desk, colleague, contact_id)

        assert_problem(response, 409, "preview-not-held")
        assert (await desk.contact(contact_id)).next_attempt_at is None
