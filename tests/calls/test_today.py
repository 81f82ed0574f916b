"""GET /v1/calls/count-today and GET /v1/calls/active-count: the seed's bodies, the tenant's calendar day in its
time zone, an agent's own figures, one campaign's, and the live calls (seed "Calls")."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from engage.calls.models import CallStatus
from engage.calls.service import local_day
from engage.core.clock import ManualClock
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import TODAY_START, Calls, at

ZERO_DAY = {
    "date": "2026-06-12",
    "total_calls": 0,
    "connected": 0,
    "no_answer": 0,
    "busy": 0,
    "failed": 0,
    "voicemail": 0,
    "avg_talk_time_seconds": 0,
    "abandon_rate": 0.0,
    "as_of": "2026-06-12T10:00:00Z",
}


@pytest.fixture
async def day(
    tenant: Tenant, other_tenant: Tenant, factory: Factory, campaign: uuid.UUID, agent: User, calls: Calls
) -> uuid.UUID:
    """A fixed day of the tenant (Dubai, clock at 14:00 local); returns the second campaign's id.

    Counted (started on 2026-06-12 in Dubai):
      2026-06-11T21:00Z (01:00 local)  completed, bridged, talk 100   the agent's           answered by a person
      06:00Z  completed, bridged, talk 201                                                 answered by a person
      07:00Z  no_answer                                              campaign 2
      07:00Z  no_answer                                              the agent's
      07:30Z  busy                                                   campaign 2
      08:00Z  failed
      08:30Z  voicemail (a machine answered)
      09:00Z  completed, answered, abandoned (no agent within 2 s)                         answered by a person
      09:30Z  bridged, live (talk time still unknown)                                      answered by a person
      09:40Z  answered, live, no agent yet                                                 answered by a person
      09:45Z  completed, answered, never bridged, not abandoned                            answered by a person
    total 11, connected 3 (bridged_at set), avg talk (100 + 201) / 2 = 150.5 → 151, abandon 1 / 6 = 16.7 %.
    Not counted: 2026-06-11T19:59:59Z (23:59:59 local, yesterday) and another tenant's call of today.
    """
    second = await factory.campaign(tenant, name="Upsell")
    add = calls.add
    await add(tenant, started_at=at("2026-06-11T19:59:59Z"), status=CallStatus.no_answer, campaign_id=campaign)
    await add(
        tenant,
        started_at=at("2026-06-11T21:00:00Z"),
        campaign_id=campaign,
        agent_id=agent.id,
        answered_at=at("2026-06-11T21:00:10Z"),
        bridged_at=at("2026-06-11T21:00:11Z"),
        talk_time_seconds=100,
    )
    await add(
        tenant,
        started_at=at("2026-06-12T06:00:00Z"),
        campaign_id=campaign,
        answered_at=at("2026-06-12T06:00:10Z"),
        bridged_at=at("2026-06-12T06:00:11Z"),
        talk_time_seconds=201,
    )
    await add(tenant, started_at=at("2026-06-12T07:00:00Z"), status=CallStatus.no_answer, campaign_id=second)
    await add(tenant, started_at=at("2026-06-12T07:00:00Z"), status=CallStatus.no_answer, agent_id=agent.id)
    await add(tenant, started_at=at("2026-06-12T07:30:00Z"), status=CallStatus.busy, campaign_id=second)
    await add(tenant, started_at=at("2026-06-12T08:00:00Z"), status=CallStatus.failed, campaign_id=campaign)
    await add(
        tenant,
        started_at=at("2026-06-12T08:30:00Z"),
        status=CallStatus.voicemail,
        campaign_id=campaign,
        answered_at=at("2026-06-12T08:30:05Z"),
    )
    await add(
        tenant,
        started_at=at("2026-06-12T09:00:00Z"),
        campaign_id=campaign,
        answered_at=at("2026-06-12T09:00:05Z"),
        abandoned=True,
    )
    await add(
        tenant,
        started_at=at("2026-06-12T09:30:00Z"),
        status=CallStatus.bridged,
        campaign_id=campaign,
        answered_at=at("2026-06-12T09:30:05Z"),
        bridged_at=at("2026-06-12T09:30:06Z"),
    )
    await add(
        tenant,
        started_at=at("2026-06-12T09:40:00Z"),
        status=CallStatus.answered,
        campaign_id=campaign,
        answered_at=at("2026-06-12T09:40:05Z"),
    )
    await add(tenant, started_at=at("2026-06-12T09:45:00Z"), answered_at=at("2026-06-12T09:45:05Z"))
    await add(other_tenant, started_at=at("2026-06-12T09:00:00Z"), status=CallStatus.busy)
    return second


class TestCountToday:
    async def test_the_seeds_body_hand_computed_over_the_tenants_local_day(
        self, client: httpx.AsyncClient, headers: dict[str, str], day: uuid.UUID
    ) -> None:
        response = await client.get("/v1/calls/count-today", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "date": "2026-06-12",
            "total_calls": 11,
            "connected": 3,
            "no_answer": 2,
            "busy": 1,
            "failed": 1,
            "voicemail": 1,
            "avg_talk_time_seconds": 151,
            "abandon_rate": 16.7,
            "as_of": "2026-06-12T10:00:00Z",
        }

    async def test_a_call_at_21z_belongs_to_the_next_local_day_and_one_before_local_midnight_to_the_day_before(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, calls: Calls
    ) -> None:
        await calls.add(tenant, started_at=TODAY_START, status=CallStatus.busy)  # 00:00:00 local: today
        await calls.add(tenant, started_at=at("2026-06-11T21:00:00Z"), status=CallStatus.failed)  # 01:00 local
        await calls.add(tenant, started_at=at("2026-06-11T19:59:59Z"), status=CallStatus.no_answer)  # yesterday

        body = (await client.get("/v1/calls/count-today", headers=headers)).json()

        assert (body["date"], body["total_calls"], body["busy"], body["failed"], body["no_answer"]) == (
            "2026-06-12",
            2,
            1,
            1,
            0,
        )

    async def test_the_local_date_turns_at_local_midnight_not_at_utc_midnight(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, calls: Calls, clock: ManualClock
    ) -> None:
        await calls.add(tenant, started_at=at("2026-06-12T19:00:00Z"))
        clock.advance(10 * 3600)  # 20:00Z: midnight in Dubai, still 2026-06-12 in UTC

        body = (await client.get("/v1/calls/count-today", headers=headers)).json()

        assert body == ZERO_DAY | {"date": "2026-06-13", "as_of": "2026-06-12T20:00:00Z"}

    async def test_an_agent_gets_its_own_figures_only(
        self, client: httpx.AsyncClient, factory: Factory, agent: User, day: uuid.UUID
    ) -> None:
        response = await client.get("/v1/calls/count-today", headers=factory.headers(agent))

        # B (completed, bridged, talk 100) and the 07:00Z no_answer.
        assert response.json() == ZERO_DAY | {
            "total_calls": 2,
            "connected": 1,
            "no_answer": 1,
            "avg_talk_time_seconds": 100,
        }

    async def test_campaign_id_scopes_the_figures_to_that_campaign(
        self, client: httpx.AsyncClient, headers: dict[str, str], day: uuid.UUID
    ) -> None:
        response = await client.get("/v1/calls/count-today", headers=headers, params={"campaign_id": str(day)})

        assert response.json() == ZERO_DAY | {"total_calls": 2, "no_answer": 1, "busy": 1}

    async def test_a_day_without_calls_is_all_zeros(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/calls/count-today", headers=headers)

        assert response.json() == ZERO_DAY

    async def test_another_tenants_campaign_is_404(
        self, client: httpx.AsyncClient, headers: dict[str, str], other_campaign: uuid.UUID
    ) -> None:
        response = await client.get(
            "/v1/calls/count-today", headers=headers, params={"campaign_id": str(other_campaign)}
        )

        assert_problem(response, 404, "campaign-not-found")

    async def test_an_unknown_campaign_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/calls/count-today", headers=headers, params={"campaign_id": str(uuid.uuid4())})

        assert_problem(response, 404, "campaign-not-found")

    async def test_a_malformed_campaign_id_is_400_naming_it(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get("/v1/calls/count-today", headers=headers, params={"campaign_id": "abc"})

        assert error_fields(assert_problem(response, 400, "validation-error")) == {"campaign_id"}


class TestLocalDay:
    def test_the_day_runs_from_local_midnight_to_local_midnight(self) -> None:
        day = local_day(datetime(2026, 6, 11, 21, 0, tzinfo=UTC), ZoneInfo("Asia/Dubai"))

        assert day.date == date(2026, 6, 12)
        assert (day.start, day.end) == (TODAY_START, datetime(2026, 6, 12, 20, 0, tzinfo=UTC))

    def test_a_day_when_clocks_go_forward_lasts_23_hours(self) -> None:
        day = local_day(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), ZoneInfo("Europe/London"))

        assert (day.start, day.end) == (
            datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 29, 23, 0, tzinfo=UTC),
        )


class TestActiveCount:
    async def test_counts_the_tenants_live_calls_ringing_and_connected(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, other_tenant: Tenant, calls: Calls
    ) -> None:
        started = at("2026-06-12T09:59:00Z")
        for status, count in [
            (CallStatus.dialing, 2),
            (CallStatus.ringing, 1),
            (CallStatus.answered, 1),
            (CallStatus.bridged, 3),
            (CallStatus.completed, 4),
            (CallStatus.no_answer, 1),
            (CallStatus.voicemail, 1),
        ]:
            for _ in range(count):
                await calls.add(tenant, started_at=started, status=status)
        await calls.add(other_tenant, started_at=started, status=CallStatus.bridged)

        response = await client.get("/v1/calls/active-count", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {"active_calls": 7, "ringing": 3, "connected": 4, "as_of": "2026-06-12T10:00:00Z"}

    async def test_no_live_call_is_all_zeros(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, calls: Calls
    ) -> None:
        await calls.add(tenant, started_at=at("2026-06-12T09:00:00Z"))

        response = await client.get("/v1/calls/active-count", headers=headers)

        assert response.json() == {"active_calls": 0, "ringing": 0, "connected": 0, "as_of": "2026-06-12T10:00:00Z"}


class TestRoles:
    @pytest.mark.parametrize("path", ["/v1/calls", "/v1/calls/count-today", "/v1/calls/active-count"])
    async def test_every_role_reads_calls(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        supervisor_headers: dict[str, str],
        agent_headers: dict[str, str],
        path: str,
    ) -> None:
        for role_headers in (headers, supervisor_headers, agent_headers):
            assert (await client.get(path, headers=role_headers)).status_code == 200

    @pytest.mark.parametrize("path", ["/v1/calls/count-today", "/v1/calls/active-count", f"/v1/calls/{uuid.uuid4()}"])
    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient, path: str) -> None:
        assert_problem(await client.get(path), 401, "unauthorized")
