"""POST /v1/calls/{id}/hangup and POST /v1/calls/{id}/disposition (DESIGN.md §2): who may, what they change
(the hang-up request the worker acts on; the disposition on the call and its contact, the DNC list, a callback
to the same agent, the end of wrap-up), and what is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from engage.calls.models import Call
from engage.campaigns.schemas import DialingMode
from engage.core.clock import ManualClock, isoformat_z
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.runtime import Runtime
from engage.dialer import service as dialer_service
from engage.telephony.events import LegOutcome
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .control_support import OPEN_IN_DUBAI, Desk, move_to, random_ae_mobile

pytestmark = pytest.mark.usefixtures("open_hours", "registries")

CALL_KEYS = {
    "id",
    "campaign_id",
    "contact_id",
    "agent_id",
    "contact_phone",
    "direction",
    "origin",
    "status",
    "abandoned",
    "disposition",
    "notes",
    "hangup_cause",
    "cli",
    "compliance_audit_ref",
    "duration_seconds",
    "talk_time_seconds",
    "started_at",
    "answered_at",
    "ended_at",
    "dispositioned_at",
    "recording_id",
}


@pytest.fixture
def open_hours(clock: ManualClock) -> ManualClock:
    move_to(clock, OPEN_IN_DUBAI)
    return clock


@pytest.fixture
async def desk(runtime: Runtime, factory: Factory, client: httpx.AsyncClient, tenant: Tenant) -> Desk:
    await factory.campaign(tenant)  # the tenant's caller ID
    return Desk(runtime, factory, client, tenant)


async def end(desk: Desk, call_id: str, *, bridged: bool = False) -> None:
    """The switch's side, as the worker applies it: answered and bridged (optionally), then the hang-up."""
    now, leg = desk.runtime.clock.now(), uuid.UUID(call_id)
    # One transaction per switch event, as the worker has them.
    if bridged:
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            await dialer_service.mark_answered(session, leg, machine=False, now=now)
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            await dialer_service.mark_bridged(session, leg, now=now, recording_path=None)
    outcome = LegOutcome.completed if bridged else LegOutcome.no_answer
    async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
        await dialer_service.end_call(session, leg, outcome=outcome, cause="NORMAL_CLEARING", now=now)


class TestLateBridge:
    async def test_a_bridge_confirmed_after_the_call_was_abandoned_leaves_it_abandoned(
        self, desk: Desk, clock: ManualClock
    ) -> None:
        """Found by the hardening suite under load: the abandon timer fired while the bridge was in flight, and the
        bridge's event then marked the abandoned call bridged too (both `abandoned` and `bridged_at`)."""
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]
        leg, now = uuid.UUID(call_id), clock.now()
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            await dialer_service.mark_answered(session, leg, machine=False, now=now)
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            assert await dialer_service.mark_abandoned(session, leg, now=now) is not None
        answered_events = len(await desk.events("call.answered"))

        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            await dialer_service.mark_bridged(session, leg, now=now, recording_path="late.wav")

        call = await desk.call(call_id)
        assert call.abandoned is True
        assert call.bridged_at is None
        assert call.status != "bridged"
        assert call.recording_path is None
        assert (await desk.state(agent)).state != "on_call"
        assert len(await desk.events("call.answered")) == answered_events


class TestAgentNeverTalked:
    @pytest.mark.parametrize("ending", ["callee_hung_up", "abandoned"])
    async def test_a_dialler_call_its_reserved_agent_never_took_does_not_name_the_agent(
        self, desk: Desk, clock: ManualClock, ending: str
    ) -> None:
        """Found by CI: the callee hung up (or the silent-call limit fired) while the agent's phone rang, and the
        call kept the agent it was never bridged to, counting in that agent's calls."""
        agent = await desk.agent()
        campaign_id = await desk.campaign(agents=[agent])
        leg, now = new_id(), clock.now()
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            session.add(
                Call(
                    id=leg,
                    tenant_id=desk.tenant.id,
                    campaign_id=campaign_id,
                    contact_phone=random_ae_mobile(),
                    origin="dialer",
                    status="dialing",
                    started_at=now,
                )
            )
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            await dialer_service.mark_answered(session, leg, machine=False, now=now)
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            reserved = await dialer_service.reserve_agent(session, leg, [agent.sip_user or ""], now=now)
        assert reserved is not None
        assert reserved.agent_id == agent.id
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            await dialer_service.set_agent_leg(session, leg, "agent-leg")
        assert (await desk.call(leg)).agent_id == agent.id

        if ending == "abandoned":
            async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
                assert await dialer_service.mark_abandoned(session, leg, now=now) is not None
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            await dialer_service.end_call(session, leg, outcome=LegOutcome.completed, cause="NORMAL_CLEARING", now=now)

        call = await desk.call(leg)
        assert (call.agent_id, call.agent_leg_id, call.bridged_at) == (None, None, None)
        assert call.abandoned is (ending == "abandoned")
        assert (await desk.state(agent)).state == "available"
        completed = [e for e in await desk.events("call.completed") if e.correlation_id == leg]
        assert [e.payload["agent_id"] for e in completed] == [None]


class TestHangup:
    async def test_the_agent_on_the_call_asks_for_its_hang_up_once(self, desk: Desk, clock: ManualClock) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]
        first = clock.now()

        response = await desk.client.post(f"/v1/calls/{call_id}/hangup", headers=desk.factory.headers(agent))
        clock.advance(5)
        again = await desk.client.post(f"/v1/calls/{call_id}/hangup", headers=desk.factory.headers(agent))

        assert response.status_code == 202, response.text
        assert response.json() == {"call_id": call_id, "status": "dialing", "hangup_requested_at": isoformat_z(first)}
        assert again.status_code == 202
        assert again.json() == response.json()
        assert (await desk.call(call_id)).hangup_requested_at == first

    async def test_a_supervisor_hangs_up_an_agents_call(self, desk: Desk, supervisor_headers: dict[str, str]) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]

        response = await desk.client.post(f"/v1/calls/{call_id}/hangup", headers=supervisor_headers)

        assert response.status_code == 202, response.text
        assert (await desk.call(call_id)).hangup_requested_at is not None

    async def test_another_agents_call_is_not_found(self, desk: Desk) -> None:
        agent = await desk.agent()
        colleague = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]

        response = await desk.client.post(f"/v1/calls/{call_id}/hangup", headers=desk.factory.headers(colleague))

        assert_problem(response, 404, "call-not-found")
        assert (await desk.call(call_id)).hangup_requested_at is None

    async def test_another_tenants_call_is_not_found(self, desk: Desk, other_headers: dict[str, str]) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]

        response = await desk.client.post(f"/v1/calls/{call_id}/hangup", headers=other_headers)

        assert_problem(response, 404, "call-not-found")
        assert (await desk.call(call_id)).hangup_requested_at is None

    async def test_an_unknown_call_is_not_found(self, desk: Desk, headers: dict[str, str]) -> None:
        response = await desk.client.post(f"/v1/calls/{new_id()}/hangup", headers=headers)

        assert_problem(response, 404, "call-not-found")

    async def test_an_ended_call_cannot_be_hung_up(self, desk: Desk) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]
        await end(desk, call_id)

        response = await desk.client.post(f"/v1/calls/{call_id}/hangup", headers=desk.factory.headers(agent))

        body = assert_problem(response, 409, "call-ended")
        assert body["call_status"] == "no_answer"
        assert (await desk.call(call_id)).hangup_requested_at is None


class TestDisposition:
    async def test_the_agent_records_the_outcome_on_the_call(self, desk: Desk, clock: ManualClock) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition",
            headers=desk.factory.headers(agent),
            json={"disposition": "  sale  ", "notes": "Renewal for two years"},
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == CALL_KEYS
        assert (body["id"], body["disposition"], body["notes"]) == (call_id, "sale", "Renewal for two years")
        assert (body["origin"], body["status"], body["agent_id"]) == ("manual", "dialing", str(agent.id))
        assert body["dispositioned_at"] == isoformat_z(clock.now())
        call = await desk.call(call_id)
        assert (call.disposition, call.notes, call.dispositioned_at) == ("sale", "Renewal for two years", clock.now())

    async def test_a_supervisor_may_disposition_an_agents_call(
        self, desk: Desk, supervisor_headers: dict[str, str]
    ) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition", headers=supervisor_headers, json={"disposition": "no_interest"}
        )

        assert response.status_code == 200, response.text

    async def test_another_agents_call_is_not_found(self, desk: Desk) -> None:
        agent = await desk.agent()
        colleague = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition", headers=desk.factory.headers(colleague), json={"disposition": "sale"}
        )

        assert_problem(response, 404, "call-not-found")
        assert (await desk.call(call_id)).disposition is None

    async def test_another_tenants_call_is_not_found(self, desk: Desk, other_headers: dict[str, str]) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition", headers=other_headers, json={"disposition": "sale"}
        )

        assert_problem(response, 404, "call-not-found")
        assert (await desk.call(call_id)).disposition is None

    async def test_a_call_no_agent_ever_had_cannot_be_dispositioned(
        self, desk: Desk, headers: dict[str, str], clock: ManualClock
    ) -> None:
        campaign_id = await desk.campaign()
        call = Call(
            id=new_id(),
            tenant_id=desk.tenant.id,
            campaign_id=campaign_id,
            contact_phone=random_ae_mobile(),
            direction="outbound",
            origin="dialer",
            status="no_answer",
            abandoned=False,
            started_at=clock.now(),
            ended_at=clock.now(),
        )
        async with tenant_transaction(desk.sessions, desk.tenant.id) as session:
            session.add(call)

        response = await desk.client.post(
            f"/v1/calls/{call.id}/disposition", headers=headers, json={"disposition": "sale"}
        )

        assert_problem(response, 409, "call-without-agent")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"disposition": "   "}, "disposition"),
            ({"disposition": "x" * 65}, "disposition"),
            ({"disposition": "sale", "notes": "n" * 2001}, "notes"),
            ({"disposition": "sale", "callback_at": "2026-12-01T09:00:00"}, "callback_at"),
            ({"disposition": "sale", "callback_at": "2026-11-28T09:00:00Z"}, "callback_at"),
            ({"disposition": "sale", "callback_at": "2027-03-01T09:00:00Z"}, "callback_at"),
            ({"disposition": "sale", "callback_at": "2026-12-01T09:00:00Z", "add_to_dnc": True}, "add_to_dnc"),
            ({"disposition": "sale", "outcome": "won"}, "outcome"),
        ],
        ids=["blank", "too-long", "long-notes", "naive", "past", "beyond-90-days", "callback-and-dnc", "unknown"],
    )
    async def test_bad_input_is_a_400_and_changes_nothing(
        self, desk: Desk, body: dict[str, object], field: str
    ) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition", headers=desk.factory.headers(agent), json=body
        )

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {field}
        assert (await desk.call(call_id)).disposition is None

    async def test_add_to_dnc_lists_the_number_as_an_agent_disposition_and_marks_its_contacts(
        self, desk: Desk, factory: Factory
    ) -> None:
        agent = await desk.agent()
        phone = random_ae_mobile()
        first = await desk.campaign(phones=[phone, random_ae_mobile()])
        second = await desk.campaign(phones=[phone])
        call_id = (await desk.originate(agent, phone))["call_id"]

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition",
            headers=desk.factory.headers(agent),
            json={"disposition": "do_not_call", "add_to_dnc": True},
        )

        assert response.status_code == 200, response.text
        [entry] = await desk.dnc(phone)
        assert (entry.source, entry.added_by) == ("agent_disposition", agent.id)
        marked = [c for c in await desk.contacts(first) + await desk.contacts(second) if c.phone == phone]
        assert [c.status for c in marked] == ["dnc", "dnc"]
        assert [c.status for c in await desk.contacts(first) if c.phone != phone] == ["pending"]
        [added] = await desk.events("dnc.added")
        assert added.payload["source"] == "agent_disposition"

    async def test_callback_at_puts_the_contact_back_for_the_same_agent_when_due(
        self, desk: Desk, clock: ManualClock
    ) -> None:
        agent = await desk.agent()
        campaign_id = await desk.campaign(
            mode=DialingMode.preview, phones=[random_ae_mobile()], agents=[agent], start=True
        )
        await desk.client.get("/v1/agents/me/preview", headers=desk.factory.headers(agent))
        [contact] = await desk.contacts(campaign_id)
        dialled = await desk.client.post(
            "/v1/agents/me/preview/dial", headers=desk.factory.headers(agent), json={"contact_id": str(contact.id)}
        )
        assert dialled.status_code == 202, dialled.text
        call_id = dialled.json()["call_id"]
        await end(desk, call_id)
        callback_at = clock.now() + timedelta(days=2)

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition",
            headers=desk.factory.headers(agent),
            json={"disposition": "callback", "callback_at": isoformat_z(callback_at)},
        )

        assert response.status_code == 200, response.text
        assert response.json()["contact_id"] == str(contact.id)
        after = await desk.contact(contact.id)
        assert (after.status, after.next_attempt_at, after.callback_agent_id) == ("pending", callback_at, agent.id)
        assert after.disposition == "callback"

    async def test_a_disposition_ends_the_agents_wrap_up_for_this_call(self, desk: Desk, clock: ManualClock) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]
        await end(desk, call_id, bridged=True)
        assert (await desk.state(agent)).state == "wrap_up"
        clock.advance(3)

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition", headers=desk.factory.headers(agent), json={"disposition": "sale"}
        )

        assert response.status_code == 200, response.text
        state = await desk.state(agent)
        assert (state.state, state.state_since, state.current_call_id, state.wrap_up_until) == (
            "available",
            clock.now(),
            None,
            None,
        )
        changes = [(e.payload["previous_state"], e.payload["state"]) for e in await desk.events("agent.state_changed")]
        assert changes[-1] == ("wrap_up", "available")

    async def test_a_disposition_leaves_an_agent_who_moved_on_alone(self, desk: Desk, factory: Factory) -> None:
        agent = await desk.agent()
        call_id = (await desk.originate(agent))["call_id"]
        await end(desk, call_id, bridged=True)
        await desk.set_state(agent, "break")

        response = await desk.client.post(
            f"/v1/calls/{call_id}/disposition", headers=desk.factory.headers(agent), json={"disposition": "sale"}
        )

        assert response.status_code == 200, response.text
        assert (await desk.state(agent)).state == "break"
