"""POST /v1/calls/originate (seed "Originate a call"): the checks in their order, one audited compliance decision,
the unplaced call with its agent reserved; the seed's 202 and 403 bodies; a refusal that keeps its audit row and
event; bad input and cross-tenant ids that write nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from engage.calls.models import Call
from engage.compliance.models import AuditEntry
from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem, error_fields, without_instance
from .conftest import Registries
from .control_support import OPEN_IN_DUBAI, Desk, move_to, random_ae_mobile

pytestmark = pytest.mark.usefixtures("open_hours", "registries")

AE_HOURS = "Outside permitted calling hours for AE (09:00\u201318:00 Sun\u2013Thu)."


@pytest.fixture
def open_hours(clock: ManualClock) -> ManualClock:
    move_to(clock, OPEN_IN_DUBAI)
    return clock


@pytest.fixture
async def desk(runtime: Runtime, factory: Factory, client: httpx.AsyncClient, tenant: Tenant) -> Desk:
    return Desk(runtime, factory, client, tenant)


@pytest.fixture
async def other_desk(runtime: Runtime, factory: Factory, client: httpx.AsyncClient, other_tenant: Tenant) -> Desk:
    return Desk(runtime, factory, client, other_tenant)


async def nothing_written(desk: Desk) -> None:
    assert await desk.count(Call) == 0
    assert await desk.count(AuditEntry) == 0
    assert await desk.events("call.initiated") == []
    assert await desk.events("call.compliance_blocked") == []


class TestAccepted:
    async def test_an_allowed_call_is_one_unplaced_row_one_audit_row_one_event_and_its_agent_reserved(
        self, desk: Desk, clock: ManualClock
    ) -> None:
        agent = await desk.agent()
        campaign_id = await desk.campaign()  # the tenant's one CLI group
        cli = await desk.campaign_cli(campaign_id)
        phone = random_ae_mobile()

        body = await desk.originate(agent, phone)

        [audit] = await desk.audit()
        assert body == {
            "call_id": body["call_id"],
            "status": "dialing",
            "destination": phone,
            "compliance": {"allowed": True, "rule_version": "2026-06-01", "audit_ref": f"AUD-{audit.seq}"},
        }
        [call] = await desk.calls()
        assert str(call.id) == body["call_id"]
        assert (call.origin, call.status, call.placed_at, call.worker_id) == ("manual", "dialing", None, None)
        assert (call.agent_id, call.campaign_id, call.contact_id) == (agent.id, None, None)
        assert (call.contact_phone, call.cli, call.compliance_audit_ref) == (phone, cli, f"AUD-{audit.seq}")
        assert call.started_at == clock.now()
        assert (audit.channel, audit.actor_user_id, audit.phone, audit.allowed) == ("originate", agent.id, phone, True)
        assert audit.request["cli"] == cli
        [initiated] = await desk.events("call.initiated")
        assert initiated.payload["call_id"] == body["call_id"]
        assert initiated.payload["origin"] == "manual"
        assert initiated.correlation_id == call.id
        state = await desk.state(agent)
        assert (state.state, state.current_call_id, state.state_since) == ("reserved", call.id, clock.now())
        changes = await desk.events("agent.state_changed")
        assert [(e.payload["previous_state"], e.payload["state"]) for e in changes][-1] == ("available", "reserved")

    async def test_a_campaign_call_presents_the_campaigns_caller_id_and_is_audited_with_the_campaign(
        self, desk: Desk
    ) -> None:
        agent = await desk.agent()
        await desk.campaign()
        campaign_id = await desk.campaign()

        body = await desk.originate(agent, campaign_id=str(campaign_id))

        call = await desk.call(body["call_id"])
        assert call.campaign_id == campaign_id
        assert call.cli == await desk.campaign_cli(campaign_id)
        [audit] = await desk.audit()
        assert audit.campaign_id == campaign_id

    async def test_a_destination_in_local_format_is_read_in_the_tenants_country(self, desk: Desk) -> None:
        agent = await desk.agent()
        await desk.campaign()
        local = random_ae_mobile().replace("+971", "0")

        body = await desk.originate(agent, f"{local[:3]} {local[3:6]} {local[6:]}")

        assert body["destination"] == "+971" + local[1:]

    async def test_a_caller_id_override_of_the_tenant_is_normalised_and_presented(self, desk: Desk) -> None:
        agent = await desk.agent()
        cli = await desk.campaign_cli(await desk.campaign())

        body = await desk.originate(agent, cli_override="0" + cli.removeprefix("+971"))

        assert (await desk.call(body["call_id"])).cli == cli

    async def test_a_supervisor_originates_for_an_agent(
        self, desk: Desk, factory: Factory, supervisor_headers: dict[str, str]
    ) -> None:
        agent = await desk.agent()
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=supervisor_headers,
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        assert response.status_code == 202, response.text
        [audit] = await desk.audit()
        assert audit.actor_user_id != agent.id


class TestComplianceBlock:
    async def test_a_number_on_the_national_registry_gets_the_seeds_403_and_the_audit_row_is_committed(
        self, desk: Desk, registries: Registries
    ) -> None:
        agent = await desk.agent()
        await desk.campaign()
        phone = random_ae_mobile()
        await registries.loaded("AE", phone)

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": phone},
        )

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
        assert (audit.allowed, audit.blocking_rule, audit.channel, audit.phone) == (
            False,
            "dnc_national",
            "originate",
            phone,
        )
        [blocked] = await desk.events("call.compliance_blocked")
        assert blocked.payload["audit_ref"] == f"AUD-{audit.seq}"
        assert blocked.payload["contact_phone"] == phone
        assert await desk.calls() == []
        assert await desk.events("call.initiated") == []
        assert (await desk.state(agent)).state == "available"

    async def test_outside_calling_hours_the_detail_is_the_rule_sets_reason(
        self, desk: Desk, clock: ManualClock
    ) -> None:
        agent = await desk.agent()
        await desk.campaign()
        move_to(clock, datetime(2026, 11, 29, 18, 0, tzinfo=ZoneInfo("Asia/Dubai")).astimezone(UTC))

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        body = assert_problem(response, 403, "compliance-blocked")
        assert body["detail"] == AE_HOURS
        assert body["compliance"]["rule"] == "calling_hours"
        assert set(body["compliance"]) == {"allowed", "rule", "rule_version", "audit_ref"}
        assert await desk.calls() == []

    async def test_ae_blocks_a_number_whose_national_registry_was_never_loaded(
        self, desk: Desk, registries: Registries
    ) -> None:
        agent = await desk.agent()
        await desk.campaign()
        await registries.owner.execute("DELETE FROM registry_loads WHERE jurisdiction = 'AE'")
        try:
            response = await desk.client.post(
                "/v1/calls/originate",
                headers=desk.factory.headers(agent),
                json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
            )
        finally:
            await registries.loaded("AE")

        body = assert_problem(response, 403, "compliance-blocked")
        assert body["compliance"]["rule"] == "dnc_national"
        assert len(await desk.audit()) == 1
        assert await desk.calls() == []

    async def test_a_caller_id_override_the_tenant_does_not_own_is_blocked_by_cli_ownership(self, desk: Desk) -> None:
        agent = await desk.agent()
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile(), "cli_override": random_ae_mobile()},
        )

        body = assert_problem(response, 403, "compliance-blocked")
        assert body["compliance"]["rule"] == "cli_ownership"
        assert await desk.calls() == []


class TestRefusedBeforeCompliance:
    async def test_an_agent_may_originate_only_for_itself(self, desk: Desk) -> None:
        agent = await desk.agent()
        colleague = await desk.agent()
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(colleague.id), "destination": random_ae_mobile()},
        )

        assert_problem(response, 403, "originate-for-another-agent")
        await nothing_written(desk)

    @pytest.mark.parametrize("destination", ["12", "not a number", "+9715", "0" * 41])
    async def test_a_destination_that_is_not_a_phone_number_is_a_400_and_writes_nothing(
        self, desk: Desk, destination: str
    ) -> None:
        agent = await desk.agent()
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": destination},
        )

        assert response.status_code == 400, response.text
        assert "destination" in error_fields(response.json())
        await nothing_written(desk)
        assert (await desk.state(agent)).state == "available"

    async def test_a_malformed_cli_override_is_a_400(self, desk: Desk) -> None:
        agent = await desk.agent()
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile(), "cli_override": "12"},
        )

        body = assert_problem(response, 400, "invalid-phone")
        assert error_fields(body) == {"cli_override"}
        await nothing_written(desk)

    async def test_tenant_id_in_the_body_is_the_seeds_422(self, desk: Desk) -> None:
        agent = await desk.agent()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile(), "tenant_id": str(desk.tenant.id)},
        )

        assert_problem(response, 422, "tenant-id-not-allowed")

    async def test_an_unknown_field_is_refused(self, desk: Desk) -> None:
        agent = await desk.agent()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile(), "record": True},
        )

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {"record"}

    async def test_an_agent_on_a_break_is_not_available(self, desk: Desk) -> None:
        agent = await desk.agent()
        await desk.set_state(agent, "break")
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        body = assert_problem(response, 409, "agent-not-available")
        assert (body["agent_state"], body["sip_registered"]) == ("break", True)
        assert "break" in body["detail"]
        await nothing_written(desk)

    async def test_an_agent_whose_phone_is_not_registered_is_not_available(self, desk: Desk) -> None:
        agent = await desk.agent(registered=False)
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        body = assert_problem(response, 409, "agent-not-available")
        assert (body["agent_state"], body["sip_registered"]) == ("available", False)
        assert "not registered" in body["detail"]
        await nothing_written(desk)

    async def test_an_agent_whose_phone_unregistered_is_not_available(self, desk: Desk) -> None:
        agent = await desk.agent()
        assert agent.sip_user is not None
        await desk.register(agent.sip_user, registered=False)
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        assert_problem(response, 409, "agent-not-available")

    async def test_an_agent_without_a_sip_user_is_not_available(self, desk: Desk) -> None:
        agent = await desk.agent(sip=False)
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        body = assert_problem(response, 409, "agent-not-available")
        assert "no SIP user" in body["detail"]

    async def test_an_agent_already_reserved_for_a_call_cannot_take_a_second(self, desk: Desk) -> None:
        agent = await desk.agent()
        await desk.campaign()
        await desk.originate(agent)

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        body = assert_problem(response, 409, "agent-not-available")
        assert body["agent_state"] == "reserved"
        assert len(await desk.calls()) == 1
        assert len(await desk.audit()) == 1

    async def test_a_tenant_without_any_caller_id_gets_a_409(self, desk: Desk) -> None:
        agent = await desk.agent()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=desk.factory.headers(agent),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        assert_problem(response, 409, "no-caller-id")
        await nothing_written(desk)

    async def test_a_supervisor_is_not_an_agent_to_call_for(
        self, desk: Desk, supervisor: User, supervisor_headers: dict[str, str]
    ) -> None:
        await desk.campaign()

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=supervisor_headers,
            json={"agent_id": str(supervisor.id), "destination": random_ae_mobile()},
        )

        assert_problem(response, 404, "agent-not-found")

    async def test_without_a_token_it_is_a_401(self, desk: Desk) -> None:
        response = await desk.client.post(
            "/v1/calls/originate", json={"agent_id": str(uuid.uuid4()), "destination": random_ae_mobile()}
        )

        assert_problem(response, 401, "unauthorized")


class TestTenantIsolation:
    async def test_another_tenants_agent_is_not_found(self, desk: Desk, other_desk: Desk, factory: Factory) -> None:
        agent = await desk.agent()
        await desk.campaign()
        await other_desk.campaign()
        other_admin = await factory.user(other_desk.tenant, Role.admin)

        response = await desk.client.post(
            "/v1/calls/originate",
            headers=factory.headers(other_admin),
            json={"agent_id": str(agent.id), "destination": random_ae_mobile()},
        )

        assert_problem(response, 404, "agent-not-found")
        await nothing_written(desk)
        await nothing_written(other_desk)

    async def test_another_tenants_campaign_is_not_found(self, desk: Desk, other_desk: Desk) -> None:
        campaign_id = await desk.campaign()
        other_agent = await other_desk.agent()
        await other_desk.campaign()

        response = await other_desk.client.post(
            "/v1/calls/originate",
            headers=other_desk.factory.headers(other_agent),
            json={"agent_id": str(other_agent.id), "destination": random_ae_mobile(), "campaign_id": str(campaign_id)},
        )

        assert_problem(response, 404, "campaign-not-found")
        await nothing_written(other_desk)

    async def test_another_tenants_caller_id_is_blocked_as_not_owned(self, desk: Desk, other_desk: Desk) -> None:
        cli = await desk.campaign_cli(await desk.campaign())
        other_agent = await other_desk.agent()
        await other_desk.campaign()

        response = await other_desk.client.post(
            "/v1/calls/originate",
            headers=other_desk.factory.headers(other_agent),
            json={"agent_id": str(other_agent.id), "destination": random_ae_mobile(), "cli_override": cli},
        )

        body = assert_problem(response, 403, "compliance-blocked")
        assert body["compliance"]["rule"] == "cli_ownership"
