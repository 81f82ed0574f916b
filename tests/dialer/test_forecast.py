"""The staffing forecast (POST /v1/campaigns/{id}/forecast): the campaign's own pacer in the seeded floor
simulation, fed by the campaign's recent calls; bounded CPU; strict input; supervisors and admins; reads only."""

from __future__ import annotations

import asyncio
import random
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from engage.calls.models import Call
from engage.campaigns import service as campaigns
from engage.campaigns.models import Campaign
from engage.campaigns.schemas import CampaignUpdate, DialingMode
from engage.contacts import service as contacts
from engage.contacts.schemas import ContactIn, ContactUpload
from engage.core.clock import ManualClock, isoformat_z
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.outbox import OutboxEvent
from engage.core.runtime import Runtime
from engage.dialer.predictive import PRIOR_ANSWER_RATE, PRIOR_DIALS
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields, without_instance

HISTORY_CALLS = 200


def random_ae_mobile() -> str:
    return f"+97150{secrets.randbelow(10_000_000):07d}"


async def make_campaign(
    runtime: Runtime, factory: Factory, tenant: Tenant, *, mode: DialingMode, contacts_count: int = 0
) -> uuid.UUID:
    campaign_id = await factory.campaign(tenant)
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        if mode is not DialingMode.progressive:
            await campaigns.update_campaign(
                session, campaign_id, CampaignUpdate(dialing_mode=mode, dial_ratio=2), clock=runtime.clock
            )
        if contacts_count:
            upload = ContactUpload(contacts=[ContactIn(phone=random_ae_mobile()) for _ in range(contacts_count)])
            await contacts.upload(session, tenant.id, campaign_id, upload, clock=runtime.clock)
    return campaign_id


async def add_history(runtime: Runtime, tenant: Tenant, campaign_id: uuid.UUID, *, calls: int) -> None:
    """Finished calls over the last hours: 3 in 10 answered by a person and bridged (talks of 1-3 min), 1 in 10
    busy after a few seconds, the rest rung out at the 30 s ring timeout."""
    rng = random.Random(7)
    now = runtime.clock.now()
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        for index in range(calls):
            started = now - timedelta(hours=3) + timedelta(seconds=40 * index)
            kind = index % 10
            call = Call(
                id=new_id(),
                tenant_id=tenant.id,
                campaign_id=campaign_id,
                contact_phone=random_ae_mobile(),
                origin="dialer",
                abandoned=False,
                started_at=started,
                placed_at=started,
            )
            if kind < 3:
                answered = started + timedelta(seconds=rng.uniform(4, 14))
                talk = round(rng.uniform(60, 180))
                call.status, call.answered_at, call.bridged_at = "completed", answered, answered
                call.ended_at, call.talk_time_seconds = answered + timedelta(seconds=talk), talk
            elif kind == 3:
                call.status, call.ended_at = "busy", started + timedelta(seconds=rng.uniform(2, 6))
            else:
                call.status, call.ended_at = "no_answer", started + timedelta(seconds=30)
            session.add(call)


async def forecast(
    client: httpx.AsyncClient, campaign_id: uuid.UUID, headers: dict[str, str], body: Any
) -> httpx.Response:
    return await client.post(f"/v1/campaigns/{campaign_id}/forecast", headers=headers, json=body)


async def forecast_ok(
    client: httpx.AsyncClient, campaign_id: uuid.UUID, headers: dict[str, str], body: Any
) -> dict[str, Any]:
    response = await forecast(client, campaign_id, headers, body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


class TestForecast:
    @pytest.mark.parametrize("mode", [DialingMode.progressive, DialingMode.predictive])
    async def test_more_agents_never_forecast_fewer_connects_per_hour(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        factory: Factory,
        tenant: Tenant,
        headers: dict[str, str],
        mode: DialingMode,
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=mode)
        await add_history(runtime, tenant, campaign_id, calls=HISTORY_CALLS)

        answers = [await forecast_ok(client, campaign_id, headers, {"agents": n, "hours": 1}) for n in (2, 5, 10)]

        connects = [answer["connects_per_hour"] for answer in answers]
        assert connects == sorted(connects), connects
        assert connects[0] > 0
        for answer in answers:
            assert answer["dialing_mode"] == mode.value
            assert 0 < answer["occupancy"] <= 1
            assert answer["dials_per_hour"] >= answer["connects_per_hour"]
            assert answer["abandon_rate"] >= 0
            assert 0 < answer["simulated_hours"] <= 1
            assert answer["seeds"]

    async def test_the_simulation_is_fed_the_campaigns_own_history(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.power)
        await add_history(runtime, tenant, campaign_id, calls=HISTORY_CALLS)

        answer = await forecast_ok(client, campaign_id, headers, {"agents": 3, "hours": 0.5})

        estimates = answer["estimates"]
        assert estimates["samples"] == HISTORY_CALLS
        assert estimates["priors_dominate"] is False
        # 60 people in 200 dials, pooled with the prior's dials.
        expected = (PRIOR_ANSWER_RATE * PRIOR_DIALS + 60) / (PRIOR_DIALS + 200)
        assert estimates["answer_rate"] == pytest.approx(expected, abs=1e-4)
        assert 4 < estimates["mean_time_to_answer_seconds"] < 14
        assert 60 < estimates["mean_talk_seconds"] < 180
        # Of the 140 dials without a person, 20 ended early (busy).
        assert estimates["early_end_rate"] == pytest.approx((1 - estimates["answer_rate"]) * 20 / 140, abs=1e-4)
        assert (estimates["wrap_up_seconds"], estimates["ring_timeout_seconds"]) == (15, 30)
        assert answer["hours"] == 0.5
        assert answer["seeds"] == [1, 2, 3]

    async def test_the_same_request_gives_the_same_forecast(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive)
        await add_history(runtime, tenant, campaign_id, calls=50)
        body = {"agents": 2, "hours": 0.25}

        first = await forecast_ok(client, campaign_id, headers, body)
        second = await forecast_ok(client, campaign_id, headers, body)

        assert first == second

    async def test_a_campaign_without_history_is_forecast_on_priors_and_says_so(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        factory: Factory,
        tenant: Tenant,
        supervisor_headers: dict[str, str],
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.predictive)

        answer = await forecast_ok(client, campaign_id, supervisor_headers, {"agents": 2, "hours": 0.5})

        estimates = answer["estimates"]
        assert estimates["samples"] == 0
        assert estimates["priors_dominate"] is True
        assert estimates["answer_rate"] == PRIOR_ANSWER_RATE
        assert estimates["early_end_rate"] == 0
        assert answer["connects_per_hour"] > 0
        # Nothing to dial: the list has already run out.
        assert answer["contacts_remaining"] == 0
        assert answer["list_exhausted_at"] == isoformat_z(runtime.clock.now())

    async def test_the_list_runs_out_after_the_expected_dials_at_the_forecast_dial_rate(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        factory: Factory,
        tenant: Tenant,
        headers: dict[str, str],
        clock: ManualClock,
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive, contacts_count=40)
        await add_history(runtime, tenant, campaign_id, calls=HISTORY_CALLS)

        answer = await forecast_ok(client, campaign_id, headers, {"agents": 10, "hours": 2})

        p = answer["estimates"]["answer_rate"]
        # Three attempts each (the campaign's max_attempts): 1 + (1-p) + (1-p)^2 dials expected per contact.
        expected = 40 * (1 + (1 - p) + (1 - p) ** 2)
        assert answer["contacts_remaining"] == 40
        assert answer["expected_dials_remaining"] == pytest.approx(expected, abs=0.1)
        hours_left = answer["expected_dials_remaining"] / answer["dials_per_hour"]
        assert hours_left < 2
        exhausted = datetime.fromisoformat(answer["list_exhausted_at"])
        assert abs((exhausted - clock.now()).total_seconds() - hours_left * 3600) < 60

    async def test_a_list_that_outlasts_the_horizon_has_no_end_instant(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive, contacts_count=300)
        await add_history(runtime, tenant, campaign_id, calls=HISTORY_CALLS)

        answer = await forecast_ok(client, campaign_id, headers, {"agents": 1, "hours": 0.5})

        assert answer["contacts_remaining"] == 300
        assert answer["expected_dials_remaining"] / answer["dials_per_hour"] > 0.5
        assert answer["list_exhausted_at"] is None

    async def test_a_large_request_is_cut_by_the_budget_and_the_server_keeps_answering(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.predictive)
        await add_history(runtime, tenant, campaign_id, calls=HISTORY_CALLS)

        running = asyncio.create_task(forecast(client, campaign_id, headers, {"agents": 500, "hours": 24}))
        answered_meanwhile = 0
        while not running.done():
            # A request that waits on the database, so the loop runs other tasks (the forecast) meanwhile.
            read = await client.get(f"/v1/campaigns/{campaign_id}", headers=headers)
            assert read.status_code == 200
            answered_meanwhile += 1
        response = await running

        assert response.status_code == 200, response.text
        answer = response.json()
        # A day of 500 agents takes minutes of CPU: the budget cut it, and the answer says how far it got.
        assert 0 < answer["simulated_hours"] < answer["hours"] == 24
        assert answer["seeds"]
        # The simulation ran off the event loop: other requests were served while it ran (on the loop, only the
        # one or two that fit in the forecast's own reads would be).
        assert answered_meanwhile >= 4


class TestRefused:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "agents"),
            ({"agents": 0}, "agents"),
            ({"agents": -3}, "agents"),
            ({"agents": 10_000}, "agents"),
            ({"agents": "5"}, "agents"),
            ({"agents": 5.5}, "agents"),
            ({"agents": True}, "agents"),
            ({"agents": None}, "agents"),
            ({"agents": 5, "hours": 0}, "hours"),
            ({"agents": 5, "hours": -1}, "hours"),
            ({"agents": 5, "hours": 1000}, "hours"),
            ({"agents": 5, "hours": "8"}, "hours"),
            ({"agents": 5, "hours": None}, "hours"),
            ({"agents": 5, "seed": 4}, "seed"),
        ],
    )
    async def test_an_absurd_request_is_a_400_validation_problem_and_writes_nothing(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        factory: Factory,
        tenant: Tenant,
        headers: dict[str, str],
        body: dict[str, Any],
        field: str,
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive, contacts_count=2)
        before = await footprint(runtime, tenant, campaign_id)

        response = await forecast(client, campaign_id, headers, body)

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {field}
        assert await footprint(runtime, tenant, campaign_id) == before

    async def test_a_body_that_is_not_a_json_object_is_a_400(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive)

        response = await forecast(client, campaign_id, headers, [5])

        assert_problem(response, 400, "malformed-json")

    async def test_a_tenant_id_in_the_body_is_the_seeds_422(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive)

        response = await forecast(client, campaign_id, headers, {"agents": 5, "tenant_id": str(tenant.id)})

        assert_problem(response, 422, "tenant-id-not-allowed")

    async def test_a_preview_campaign_is_a_409_since_the_dialer_paces_nothing(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.preview)

        response = await forecast(client, campaign_id, headers, {"agents": 5})

        problem = assert_problem(response, 409, "forecast-not-available")
        assert problem["title"] == "No forecast for this campaign"
        assert "Preview" in problem["detail"]

    async def test_an_agent_is_forbidden(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        factory: Factory,
        tenant: Tenant,
        agent_headers: dict[str, str],
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive)

        response = await forecast(client, campaign_id, agent_headers, {"agents": 5})

        assert_problem(response, 403, "forbidden")

    async def test_without_a_token_it_is_a_401(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, tenant: Tenant
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive)

        response = await forecast(client, campaign_id, {}, {"agents": 5})

        assert_problem(response, 401, "unauthorized")

    async def test_another_tenants_campaign_is_a_404_like_reading_it(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        factory: Factory,
        tenant: Tenant,
        other_headers: dict[str, str],
    ) -> None:
        campaign_id = await make_campaign(runtime, factory, tenant, mode=DialingMode.progressive)

        response = await forecast(client, campaign_id, other_headers, {"agents": 5})
        read = await client.get(f"/v1/campaigns/{campaign_id}", headers=other_headers)

        problem = assert_problem(response, 404, "campaign-not-found")
        assert without_instance(problem) == without_instance(assert_problem(read, 404, "campaign-not-found"))

    async def test_an_unknown_campaign_is_a_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await forecast(client, new_id(), headers, {"agents": 5})

        assert_problem(response, 404, "campaign-not-found")


async def footprint(runtime: Runtime, tenant: Tenant, campaign_id: uuid.UUID) -> tuple[Any, ...]:
    """What a forecast could have changed: the campaign row, its calls and the tenant's outbox."""
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        calls = await session.scalar(select(func.count()).select_from(Call).where(Call.campaign_id == campaign_id))
        events = await session.scalar(select(func.count()).select_from(OutboxEvent))
        return (campaign.updated_at, campaign.status, calls, events)
