"""GET /v1/calls and GET /v1/calls/{id}: the call history, newest first, with the seed's filters and fields; an
agent sees only its own calls; another tenant's call is a 404 (seed "Calls")."""

from __future__ import annotations

import uuid

import httpx
import pytest

from engage.calls.models import CallStatus
from engage.core.clock import isoformat_z
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Calls, at

SEED_FIELDS = {
    "id",
    "campaign_id",
    "agent_id",
    "contact_phone",
    "direction",
    "status",
    "disposition",
    "duration_seconds",
    "talk_time_seconds",
    "started_at",
    "answered_at",
    "ended_at",
    "recording_id",
}
CALL_FIELDS = SEED_FIELDS | {
    "contact_id",
    "abandoned",
    "hangup_cause",
    "cli",
    "compliance_audit_ref",
    "origin",
    "notes",
}


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


class TestListCalls:
    async def test_lists_the_tenants_calls_only_newest_first_with_every_field(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        other_tenant: Tenant,
        campaign: uuid.UUID,
        agent: User,
        calls: Calls,
    ) -> None:
        recording = uuid.uuid4()
        first = await calls.add(
            tenant,
            started_at=at("2026-06-12T06:15:00Z"),
            campaign_id=campaign,
            agent_id=agent.id,
            contact_phone="+971501234567",
            disposition="sale",
            duration_seconds=248,
            talk_time_seconds=212,
            answered_at=at("2026-06-12T06:15:18Z"),
            bridged_at=at("2026-06-12T06:15:19Z"),
            ended_at=at("2026-06-12T06:19:08Z"),
            recording_id=recording,
            hangup_cause="NORMAL_CLEARING",
            cli="+97142001000",
            compliance_audit_ref="AUD-42",
            notes="Renewed for a year",
        )
        second = await calls.add(tenant, started_at=at("2026-06-12T07:00:00Z"), status=CallStatus.no_answer)
        await calls.add(other_tenant, started_at=at("2026-06-12T07:00:00Z"))

        response = await client.get("/v1/calls", headers=headers)

        assert ids(response) == [str(second.id), str(first.id)]
        body = response.json()
        assert (body["total"], body["has_more"], body["next_cursor"]) == (2, False, None)
        assert all(set(item) == CALL_FIELDS for item in body["items"])
        assert body["items"][1] == {
            "id": str(first.id),
            "campaign_id": str(campaign),
            "agent_id": str(agent.id),
            "contact_phone": "+971501234567",
            "direction": "outbound",
            "status": "completed",
            "disposition": "sale",
            "duration_seconds": 248,
            "talk_time_seconds": 212,
            "started_at": "2026-06-12T06:15:00Z",
            "answered_at": "2026-06-12T06:15:18Z",
            "ended_at": "2026-06-12T06:19:08Z",
            "recording_id": str(recording),
            "contact_id": None,
            "abandoned": False,
            "hangup_cause": "NORMAL_CLEARING",
            "cli": "+97142001000",
            "compliance_audit_ref": "AUD-42",
            "origin": "dialer",
            "notes": "Renewed for a year",
        }

    async def test_a_listed_call_is_the_body_its_own_get_returns(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        campaign: uuid.UUID,
        agent: User,
        calls: Calls,
    ) -> None:
        """PostgreSQL writes the list's items, the model writes the single GET: the two bodies agree byte for byte,
        instants to the microsecond and text that JSON must escape included."""
        call = await calls.add(
            tenant,
            started_at=at("2026-06-12T06:15:00.123456Z"),
            campaign_id=campaign,
            agent_id=agent.id,
            answered_at=at("2026-06-12T06:15:18.5Z"),
            ended_at=at("2026-06-12T06:16:00.000001Z"),
            talk_time_seconds=3,
            notes='Call back after Eid "عيد"\n\ttab \\ slash / \x01 \x1f \x7f 😀',
        )
        listed = await client.get("/v1/calls", headers=headers)
        single = await client.get(f"/v1/calls/{call.id}", headers=headers)
        assert listed.json()["items"] == [single.json()]
        assert listed.content.startswith(b'{"items":[' + single.content + b'],"total":1,')
        assert single.json()["started_at"] == "2026-06-12T06:15:00.123456Z"
        assert single.json()["answered_at"] == "2026-06-12T06:15:18.500000Z"

    async def test_campaign_id_keeps_that_campaigns_calls(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        factory: Factory,
        campaign: uuid.UUID,
        calls: Calls,
    ) -> None:
        elsewhere = await factory.campaign(tenant, name="Upsell")
        wanted = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), campaign_id=campaign)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), campaign_id=elsewhere)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"))  # a manual call, no campaign

        response = await client.get("/v1/calls", headers=headers, params={"campaign_id": str(campaign)})

        assert ids(response) == [str(wanted.id)]
        assert response.json()["total"] == 1

    async def test_agent_id_keeps_that_agents_calls(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        agent: User,
        colleague: User,
        calls: Calls,
    ) -> None:
        wanted = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=agent.id)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=colleague.id)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"))

        response = await client.get("/v1/calls", headers=headers, params={"agent_id": str(agent.id)})

        assert ids(response) == [str(wanted.id)]

    @pytest.mark.parametrize("status", list(CallStatus))
    async def test_status_keeps_the_calls_in_that_status_any_status_of_a_call(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, calls: Calls, status: CallStatus
    ) -> None:
        made = {s: await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), status=s) for s in CallStatus}

        response = await client.get("/v1/calls", headers=headers, params={"status": status.value})

        assert ids(response) == [str(made[status].id)]
        assert response.json()["items"][0]["status"] == status.value

    async def test_from_and_to_bound_started_at_inclusive_at_both_ends(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, calls: Calls
    ) -> None:
        await calls.add(tenant, started_at=at("2026-06-12T05:59:59Z"))
        on_from = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"))
        inside = await calls.add(tenant, started_at=at("2026-06-12T07:00:00Z"))
        on_to = await calls.add(tenant, started_at=at("2026-06-12T08:00:00Z"))
        await calls.add(tenant, started_at=at("2026-06-12T08:00:01Z"))

        both = await client.get(
            "/v1/calls", headers=headers, params={"from": "2026-06-12T06:00:00Z", "to": "2026-06-12T08:00:00Z"}
        )
        only_from = await client.get("/v1/calls", headers=headers, params={"from": "2026-06-12T10:00:00+04:00"})

        assert ids(both) == [str(on_to.id), str(inside.id), str(on_from.id)]
        assert len(ids(only_from)) == 4

    async def test_filters_combine(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        campaign: uuid.UUID,
        agent: User,
        calls: Calls,
    ) -> None:
        wanted = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), campaign_id=campaign, agent_id=agent.id)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), campaign_id=campaign)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=agent.id)
        await calls.add(
            tenant,
            started_at=at("2026-06-12T06:00:00Z"),
            campaign_id=campaign,
            agent_id=agent.id,
            status=CallStatus.busy,
        )

        response = await client.get(
            "/v1/calls",
            headers=headers,
            params={"campaign_id": str(campaign), "agent_id": str(agent.id), "status": "completed"},
        )

        assert ids(response) == [str(wanted.id)]

    async def test_pages_follow_the_cursor_and_total_counts_the_filtered_calls(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, calls: Calls
    ) -> None:
        made = await calls.many(tenant, 3, started_at=at("2026-06-12T06:00:00Z"))
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), status=CallStatus.busy)
        params: dict[str, str | int] = {"status": "completed", "limit": 2}

        first = (await client.get("/v1/calls", headers=headers, params=params)).json()
        second = (
            await client.get("/v1/calls", headers=headers, params=params | {"cursor": first["next_cursor"]})
        ).json()

        assert [i["id"] for i in first["items"]] == [str(made[2]), str(made[1])]
        assert (first["total"], first["has_more"]) == (3, True)
        assert [i["id"] for i in second["items"]] == [str(made[0])]
        assert (second["total"], second["has_more"], second["next_cursor"]) == (3, False, None)

    async def test_the_default_page_is_50_and_200_is_the_largest(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, calls: Calls
    ) -> None:
        await calls.many(tenant, 201, started_at=at("2026-06-12T06:00:00Z"))

        default = (await client.get("/v1/calls", headers=headers)).json()
        largest = (await client.get("/v1/calls", headers=headers, params={"limit": 200})).json()

        assert (len(default["items"]), default["total"], default["has_more"]) == (50, 201, True)
        assert (len(largest["items"]), largest["has_more"]) == (200, True)

    async def test_from_after_to_is_400_naming_from(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get(
            "/v1/calls", headers=headers, params={"from": "2026-06-12T00:00:01Z", "to": "2026-06-12T00:00:00Z"}
        )

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {"from"}

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"status": "abandoned"}, "status"),
            ({"status": "COMPLETED"}, "status"),
            ({"campaign_id": "not-a-uuid"}, "campaign_id"),
            ({"agent_id": "42"}, "agent_id"),
            ({"from": "yesterday"}, "from"),
            ({"from": "2026-06-12T00:00:00"}, "from"),  # no zone: an instant must say where it is
            ({"to": "2026-13-01T00:00:00Z"}, "to"),
            ({"limit": 201}, "limit"),
            ({"limit": 0}, "limit"),
        ],
    )
    async def test_a_bad_filter_or_limit_is_400_naming_it(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        calls: Calls,
        params: dict[str, str],
        field: str,
    ) -> None:
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"))

        response = await client.get("/v1/calls", headers=headers, params=params)

        assert error_fields(assert_problem(response, 400, "validation-error")) == {field}
        assert "items" not in response.json()

    async def test_a_garbled_cursor_is_400(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/calls", headers=headers, params={"cursor": "garbage!"})

        assert_problem(response, 400, "invalid-cursor")

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/calls"), 401, "unauthorized")


class TestAnAgentSeesOnlyItsOwnCalls:
    async def test_the_list_holds_only_the_agents_calls(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        agent: User,
        colleague: User,
        calls: Calls,
    ) -> None:
        own = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=agent.id)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=colleague.id)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"))

        response = await client.get("/v1/calls", headers=factory.headers(agent))

        assert ids(response) == [str(own.id)]
        assert response.json()["total"] == 1

    async def test_a_colleagues_id_as_filter_lists_nothing_rather_than_failing(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        agent: User,
        colleague: User,
        calls: Calls,
    ) -> None:
        own = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=agent.id)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=colleague.id)

        theirs = await client.get("/v1/calls", headers=factory.headers(agent), params={"agent_id": str(colleague.id)})
        mine = await client.get("/v1/calls", headers=factory.headers(agent), params={"agent_id": str(agent.id)})

        assert theirs.json() == {"items": [], "total": 0, "next_cursor": None, "has_more": False}
        assert ids(mine) == [str(own.id)]

    async def test_a_supervisor_sees_every_agents_calls(
        self,
        client: httpx.AsyncClient,
        supervisor_headers: dict[str, str],
        tenant: Tenant,
        agent: User,
        colleague: User,
        calls: Calls,
    ) -> None:
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=agent.id)
        await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=colleague.id)

        response = await client.get("/v1/calls", headers=supervisor_headers)

        assert response.json()["total"] == 2

    async def test_a_colleagues_call_is_404_and_the_agents_own_call_is_served(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        agent: User,
        colleague: User,
        calls: Calls,
    ) -> None:
        own = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=agent.id)
        theirs = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"), agent_id=colleague.id)
        nobodys = await calls.add(tenant, started_at=at("2026-06-12T06:00:00Z"))

        mine = await client.get(f"/v1/calls/{own.id}", headers=factory.headers(agent))

        assert mine.status_code == 200, mine.text
        assert mine.json()["id"] == str(own.id)
        for call in (theirs, nobodys):
            response = await client.get(f"/v1/calls/{call.id}", headers=factory.headers(agent))
            assert_problem(response, 404, "call-not-found")


class TestGetCall:
    async def test_returns_the_call_with_every_field(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, campaign: uuid.UUID, calls: Calls
    ) -> None:
        call = await calls.add(
            tenant,
            started_at=at("2026-06-12T06:00:00Z"),
            campaign_id=campaign,
            status=CallStatus.ringing,
            origin="manual",
        )

        response = await client.get(f"/v1/calls/{call.id}", headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == CALL_FIELDS
        assert (body["id"], body["campaign_id"], body["status"], body["origin"]) == (
            str(call.id),
            str(campaign),
            "ringing",
            "manual",
        )
        assert body["started_at"] == isoformat_z(call.started_at)

    async def test_another_tenants_call_is_404(
        self, client: httpx.AsyncClient, headers: dict[str, str], other_tenant: Tenant, calls: Calls
    ) -> None:
        theirs = await calls.add(other_tenant, started_at=at("2026-06-12T06:00:00Z"), contact_phone="+971509999999")

        response = await client.get(f"/v1/calls/{theirs.id}", headers=headers)

        body = assert_problem(response, 404, "call-not-found")
        assert body["title"] == "Call not found"
        assert "+971509999999" not in response.text

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        assert_problem(await client.get(f"/v1/calls/{uuid.uuid4()}", headers=headers), 404, "call-not-found")

    async def test_a_malformed_id_is_400_naming_call_id(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get("/v1/calls/not-a-uuid", headers=headers)

        assert error_fields(assert_problem(response, 400, "validation-error")) == {"call_id"}
