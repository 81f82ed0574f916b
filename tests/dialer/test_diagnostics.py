"""GET /v1/campaigns/{id}/diagnostics: whether a campaign is dialling now and, precisely, why not. Each reason is
provoked for real: through the services and the API where the state is the database's, and with a worker on the
simulator where it is the worker's (its lease, its switch, the pacer's figures, the compliance gate's denials).

The app and the worker share one clock (a `SteppingClock` from Wednesday 10 June 2026, 11:00 in Dubai), so the
heartbeat ages and calling hours the endpoint computes are those the worker lives by."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from engage.campaigns.schemas import DialingMode
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.dialer import repository as dialer_repository
from engage.telephony.sim.server import Behaviour

from ..factories import Factory
from ..problems import assert_problem, error_fields, without_instance
from .conftest import Dialer, Floor, Reader, Registries, SteppingClock, eventually, make_floor, random_ae_mobile

Body = dict[str, Any]


@pytest.fixture
def clock(dial_clock: SteppingClock) -> SteppingClock:
    """The app's clock is the worker's."""
    return dial_clock


async def diagnose(client: httpx.AsyncClient, factory: Factory, floor: Floor) -> Body:
    supervisor = await factory.user(floor.tenant, Role.supervisor)
    response = await client.get(f"/v1/campaigns/{floor.campaign_id}/diagnostics", headers=factory.headers(supervisor))
    assert response.status_code == 200, response.text
    body: Body = response.json()
    return body


def codes(body: Body, *, blocking: bool | None = None) -> list[str]:
    return [r["code"] for r in body["reasons"] if blocking is None or r["blocking"] is blocking]


def reason(body: Body, code: str) -> Body:
    found: Body = next(r for r in body["reasons"] if r["code"] == code)
    return found


async def register(runtime: Runtime, *sip_users: str | None) -> None:
    """As a worker records what the switch says."""
    async with unscoped_transaction(runtime.sessions) as session:
        for sip_user in sip_users:
            assert sip_user is not None
            await dialer_repository.record_registration(session, sip_user, registered=True, at=runtime.clock.now())


async def set_states(client: httpx.AsyncClient, factory: Factory, floor: Floor, state: str) -> None:
    supervisor = await factory.user(floor.tenant, Role.supervisor)
    for agent in floor.agents:
        response = await client.post(
            f"/v1/agents/{agent.id}/state", headers=factory.headers(supervisor), json={"state": state}
        )
        assert response.status_code == 200, response.text


# -- the campaign's own state (database only, no worker) -----------------------------------------------------------


class TestCampaignState:
    async def test_a_draft_campaign_whose_only_agent_left_says_it_is_not_active_and_has_no_agent(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=3, agents_count=1, start=False)
        admin = await factory.user(floor.tenant, Role.admin)
        gone = await client.patch(
            f"/v1/users/{floor.agents[0].id}", headers=factory.headers(admin), json={"is_active": False}
        )
        assert gone.status_code == 200, gone.text

        body = await diagnose(client, factory, floor)

        assert body["dialing"] is False
        assert body["status"] == "draft"
        assert codes(body, blocking=True) == ["campaign_not_active", "no_agents_assigned"]
        assert reason(body, "campaign_not_active")["details"] == {"status": "draft"}
        assert body["agents"] == {
            "assigned": 0,
            "logged_in": 0,
            "available": 0,
            "registered": 0,
            "busy": 0,
            "away": 0,
            "ready": 0,
        }
        contacts = body["contacts"]
        assert (contacts["total"], contacts["by_status"], contacts["remaining"]) == (3, {"pending": 3}, 3)
        assert (contacts["dialable_now"], contacts["waiting_for_retry"], contacts["next_retry_at"]) == (3, 0, None)
        assert contacts["calling_windows"] == [
            {"jurisdiction": "AE", "timezone": "Asia/Dubai", "contacts": 3, "open_now": True, "opens_at": body["as_of"]}
        ]
        assert body["lease"] is None
        assert body["lines_in_flight"] == 0
        assert body["pacer"]["mode"] == "progressive"

    async def test_a_paused_campaign_is_not_active(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime)
        supervisor = await factory.user(floor.tenant, Role.supervisor)
        paused = await client.post(f"/v1/campaigns/{floor.campaign_id}/pause", headers=factory.headers(supervisor))
        assert paused.status_code == 200, paused.text

        body = await diagnose(client, factory, floor)

        assert body["dialing"] is False
        assert codes(body)[0] == "campaign_not_active"
        assert reason(body, "campaign_not_active")["details"] == {"status": "paused"}

    async def test_an_active_campaign_no_worker_has_taken_says_no_worker_and_nothing_else_blocks(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=2, agents_count=1)
        await register(runtime, floor.agents[0].sip_user)

        body = await diagnose(client, factory, floor)

        assert body["dialing"] is False
        assert codes(body, blocking=True) == ["no_worker"]
        assert body["lease"] is None
        assert body["agents"]["ready"] == 1
        assert body["contacts"]["dialable_now"] == 2
        assert (body["pacer"]["lines_wanted"], body["pacer"]["mode"]) == (1, "progressive")


class TestAgents:
    async def test_no_agent_logged_in(self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime) -> None:
        floor = await make_floor(factory, runtime, agents_count=2)
        await set_states(client, factory, floor, "offline")

        body = await diagnose(client, factory, floor)

        assert "no_agents_logged_in" in codes(body, blocking=True)
        assert (body["agents"]["assigned"], body["agents"]["logged_in"]) == (2, 0)
        holding = reason(body, "pacer_holding_back")
        assert holding["blocking"] is True
        assert holding["details"]["pacer_reason"] == "no agent of the campaign is logged in"
        assert body["pacer"]["lines_wanted"] == 0

    async def test_every_agent_on_break_means_no_agent_available(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, agents_count=2)
        await register(runtime, *(a.sip_user for a in floor.agents))
        await set_states(client, factory, floor, "break")

        body = await diagnose(client, factory, floor)

        found = reason(body, "no_agents_available")
        assert found["blocking"] is True
        assert found["details"] == {"busy": 0, "away": 2}
        assert (body["agents"]["logged_in"], body["agents"]["away"], body["agents"]["ready"]) == (2, 2, 0)

    async def test_available_agents_whose_phones_are_unregistered_are_named(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, agents_count=2)

        body = await diagnose(client, factory, floor)

        found = reason(body, "no_agents_registered")
        assert found["blocking"] is True
        assert sorted(a["sip_user"] for a in found["details"]["agents"]) == sorted(
            str(a.sip_user) for a in floor.agents
        )
        assert body["agents"]["available"] == 2
        assert body["agents"]["registered"] == 0

    async def test_one_registered_agent_clears_the_agent_reasons(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, agents_count=2)
        await register(runtime, floor.agents[1].sip_user)

        body = await diagnose(client, factory, floor)

        assert not {"no_agents_registered", "no_agents_available", "no_agents_logged_in"} & set(codes(body))
        assert (body["agents"]["registered"], body["agents"]["ready"]) == (1, 1)


class TestContacts:
    async def test_a_list_whose_last_number_went_on_the_dnc_list_is_exhausted(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1)
        supervisor = await factory.user(floor.tenant, Role.supervisor)
        added = await client.post("/v1/dnc", headers=factory.headers(supervisor), json={"phones": floor.phones})
        assert added.status_code == 201, added.text

        body = await diagnose(client, factory, floor)

        found = reason(body, "list_exhausted")
        assert found["blocking"] is True
        assert found["details"] == {"by_status": {"dnc": 1}}
        assert (body["contacts"]["remaining"], body["contacts"]["dialable_now"]) == (0, 0)

    async def test_after_hours_every_contact_waits_for_the_jurisdictions_next_opening(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime, dial_clock: SteppingClock
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=3)
        await register(runtime, floor.agents[0].sip_user)
        dial_clock.advance(8 * 3600)  # Wednesday 19:00 in Dubai: AE calls 09:00-18:00, Sunday to Thursday

        body = await diagnose(client, factory, floor)

        found = reason(body, "outside_calling_window")
        assert found["blocking"] is True
        # Thursday 09:00 in Dubai.
        opening = {"jurisdiction": "AE", "timezone": "Asia/Dubai", "contacts": 3, "opens_at": "2026-06-11T05:00:00Z"}
        assert found["details"] == {"jurisdictions": [opening]}
        assert "2026-06-11T05:00:00Z" in found["message"]
        assert body["contacts"]["calling_windows"] == [opening | {"open_now": False}]
        assert (body["contacts"]["dialable_now"], body["dialing"]) == (0, False)

    async def test_the_campaigns_own_calling_window_is_honoured(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=2, calling_window={"start": "12:00", "end": "13:00"})

        body = await diagnose(client, factory, floor)

        # Legal hours are open at 11:00; the campaign's window opens at 12:00 in Dubai, the same day.
        [window] = reason(body, "outside_calling_window")["details"]["jurisdictions"]
        assert window["opens_at"] == "2026-06-10T08:00:00Z"


class TestLease:
    async def test_a_lease_whose_worker_went_silent_is_no_worker(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime, dial_clock: SteppingClock
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1, agents_count=1)
        ghost = f"ghost-{uuid.uuid4().hex[:8]}"
        # A worker process that took the campaign with its heartbeat, then went silent (its row and lease stay).
        async with unscoped_transaction(runtime.sessions) as session:
            await dialer_repository.heartbeat(
                session,
                ghost,
                hostname="gone-host",
                pid=4242,
                now=dial_clock.now(),
                stale_seconds=3,
                switch_connected=True,
            )
        try:
            dial_clock.advance(20)  # past ENGAGE_DIALER_LEASE_STALE_SECONDS (15 by default)

            body = await diagnose(client, factory, floor)
            # The SECURITY DEFINER look-up answers only within the campaign's tenant.
            other = await factory.tenant(name="Globex")
            async with tenant_transaction(runtime.sessions, other.id) as session:
                assert await dialer_repository.lease_holder(session, floor.campaign_id) is None
        finally:
            async with unscoped_transaction(runtime.sessions) as session:
                await dialer_repository.release(session, ghost)

        found = reason(body, "no_worker")
        assert found["blocking"] is True
        assert found["details"]["worker_id"] == ghost
        assert found["details"]["heartbeat_age_seconds"] >= 20
        lease = body["lease"]
        assert (lease["worker_id"], lease["hostname"], lease["pid"]) == (ghost, "gone-host", 4242)
        assert lease["fresh"] is False
        assert body["dialing"] is False


class TestCost:
    async def test_the_number_of_queries_does_not_grow_with_the_list(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        small = await make_floor(factory, runtime, contacts_count=2, agents_count=1)
        large = await make_floor(factory, runtime, contacts_count=300, agents_count=5)

        with counted(runtime) as small_count:
            await diagnose(client, factory, small)
        with counted(runtime) as large_count:
            body = await diagnose(client, factory, large)

        assert body["contacts"]["remaining"] == 300
        assert len(large_count) == len(small_count) <= 20


def counted(runtime: Runtime) -> Any:
    class Counting:
        def __enter__(self) -> list[str]:
            self.statements: list[str] = []
            event.listen(runtime.engine.sync_engine, "before_cursor_execute", self.record)
            return self.statements

        def __exit__(self, *_: object) -> None:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", self.record)

        def record(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
            self.statements.append(statement)

    return Counting()


# -- access ----------------------------------------------------------------------------------------------------------


class TestAccess:
    async def test_another_tenants_campaign_is_the_same_404_as_getting_it(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime, other_headers: dict[str, str]
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1)

        response = await client.get(f"/v1/campaigns/{floor.campaign_id}/diagnostics", headers=other_headers)
        plain = await client.get(f"/v1/campaigns/{floor.campaign_id}", headers=other_headers)

        body = assert_problem(response, 404, "campaign-not-found")
        assert without_instance(body) == without_instance(plain.json())

    async def test_an_agent_may_not_read_diagnostics(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1)

        response = await client.get(
            f"/v1/campaigns/{floor.campaign_id}/diagnostics", headers=factory.headers(floor.agents[0])
        )

        assert_problem(response, 403, "forbidden")

    async def test_an_admin_may(self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1)
        admin = await factory.user(floor.tenant, Role.admin)

        response = await client.get(f"/v1/campaigns/{floor.campaign_id}/diagnostics", headers=factory.headers(admin))

        assert response.status_code == 200, response.text

    async def test_an_unknown_campaign_is_a_404_problem(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get(f"/v1/campaigns/{uuid.uuid4()}/diagnostics", headers=headers)

        assert_problem(response, 404, "campaign-not-found")

    async def test_a_non_uuid_campaign_id_is_400_naming_campaign_id(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get("/v1/campaigns/not-a-uuid/diagnostics", headers=headers)

        assert "campaign_id" in error_fields(assert_problem(response, 400, "validation-error"))


# -- what only a running worker can say ------------------------------------------------------------------------------


class TestWithWorker:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        """Everyone answers and talks for long enough to be seen in flight."""
        return Behaviour(
            answer_rate=1.0, busy_rate=0.0, voicemail_rate=0.0, ring_seconds=(0.1, 0.2), talk_seconds=(3.0, 3.0), seed=7
        )

    async def test_a_predictive_campaign_in_full_flight_is_dialling_with_its_lease_and_the_pacers_figures(
        self, client: httpx.AsyncClient, dialer: Dialer, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=2, agents_count=2, mode=DialingMode.predictive)
        worker = await dialer.add_worker()

        body = await eventually(
            lambda: diagnose(client, factory, floor), lambda b: b["lines_in_flight"] > 0, "calls in flight"
        )

        assert body["dialing"] is True
        lease = body["lease"]
        assert (lease["worker_id"], lease["hostname"], lease["pid"]) == (
            worker.worker_id,
            socket.gethostname(),
            os.getpid(),
        )
        assert lease["fresh"] is True
        assert lease["switch_connected"] is True
        assert 0 <= lease["heartbeat_age_seconds"] < 3
        pacer = body["pacer"]
        assert pacer["mode"] == "predictive"
        assert pacer["reason"]
        for figure in ("answer_rate", "mean_talk_seconds", "abandon_rate_target", "threshold", "samples"):
            assert figure in pacer["figures"], figure
        assert pacer["figures"]["abandon_rate_target"] == 3.0
        assert not {"no_worker", "switch_disconnected", "campaign_not_active"} & set(codes(body))

    async def test_a_worker_whose_switch_is_down_is_reported(
        self, client: httpx.AsyncClient, dialer: Dialer, factory: Factory, runtime: Runtime
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1, agents_count=1)
        await set_states(client, factory, floor, "break")  # nothing to dial: the campaign only stays leased
        await dialer.add_worker()
        await eventually(lambda: diagnose(client, factory, floor), lambda b: b["lease"] is not None, "the lease")

        await dialer.sim.stop()

        body = await eventually(
            lambda: diagnose(client, factory, floor),
            lambda b: "switch_disconnected" in codes(b),
            "the switch to be reported down",
        )
        assert reason(body, "switch_disconnected")["blocking"] is True
        assert body["lease"]["switch_connected"] is False
        assert body["dialing"] is False


class TestWithBusyCallees:
    @pytest.fixture
    def behaviour(self) -> Behaviour:
        return Behaviour(answer_rate=0.0, busy_rate=1.0, voicemail_rate=0.0, ring_seconds=(0.05, 0.05), seed=5)

    async def test_a_contact_that_was_busy_waits_for_its_retry_and_nothing_else_blocks(
        self, client: httpx.AsyncClient, dialer: Dialer, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1, max_attempts=2, retry_delay_minutes=60)
        await dialer.add_worker()
        [call] = await eventually(
            lambda: reader.calls(floor), lambda c: len(c) == 1 and c[0].ended_at is not None, "the busy call"
        )
        [contact] = await reader.contacts(floor)
        assert contact.next_attempt_at is not None

        body = await diagnose(client, factory, floor)

        assert call.status == "busy"
        assert codes(body, blocking=True) == ["waiting_for_retries"]
        found = reason(body, "waiting_for_retries")
        expected = contact.next_attempt_at.isoformat().replace("+00:00", "Z")
        assert found["details"] == {"count": 1, "next_retry_at": expected}
        assert (body["contacts"]["waiting_for_retry"], body["contacts"]["next_retry_at"]) == (1, expected)
        assert body["lease"]["fresh"] is True
        assert body["dialing"] is False


class TestComplianceDenials:
    async def test_numbers_the_gate_refused_are_counted_by_rule(
        self,
        client: httpx.AsyncClient,
        dialer: Dialer,
        factory: Factory,
        runtime: Runtime,
        reader: Reader,
        registries: Registries,
    ) -> None:
        listed, free = random_ae_mobile(), random_ae_mobile()
        await registries.loaded("AE", listed)
        floor = await make_floor(factory, runtime, phones=[listed, free], agents_count=1, wrap_up_seconds=1)
        await dialer.add_worker()
        await eventually(lambda: reader.campaign(floor), lambda c: c.status == "completed", "completion")

        body = await diagnose(client, factory, floor)

        found = reason(body, "blocked")
        assert found["blocking"] is False
        [rule] = found["details"]["rules"]
        assert (rule["rule"], rule["numbers"], rule["decisions"]) == ("dnc_national", 1, 1)
        assert codes(body, blocking=True)[0] == "campaign_not_active"
        assert "list_exhausted" in codes(body, blocking=True)
        assert body["contacts"]["by_status"] == {"completed": 1, "dnc": 1}
