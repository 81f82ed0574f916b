"""/v1/campaigns: create with the seed's defaults, list with filters and live counters, read, and edit while
draft or paused (seed "Campaigns", DESIGN.md §2, issue 3 point 2)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from engage.campaigns.schemas import CampaignStatus
from engage.core.clock import ManualClock, isoformat_z
from engage.tenancy.models import Tenant

from ..problems import assert_problem, error_fields
from .conftest import Builder, Db

CAMPAIGN_FIELDS = {
    "id",
    "name",
    "status",
    "dialing_mode",
    "cli_group_id",
    "max_attempts",
    "retry_delay_minutes",
    "dial_ratio",
    "timezone",
    "wrap_up_seconds",
    "abandon_rate_target",
    "abandon_lockout_hours",
    "abandon_message",
    "calling_window",
    "total_contacts",
    "contacted",
    "connected",
    "abandon_rate",
    "created_at",
    "updated_at",
    "started_at",
    "paused_at",
    "completed_at",
}


class TestCreateCampaign:
    async def test_a_minimal_body_gets_201_a_draft_with_the_seeds_defaults(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
    ) -> None:
        group = await build.cli_group(tenant)

        response = await client.post(
            "/v1/campaigns",
            headers=headers,
            json={"name": "Q3 Insurance Renewal", "dialing_mode": "progressive", "cli_group_id": str(group)},
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == CAMPAIGN_FIELDS
        assert uuid.UUID(body["id"]).version == 7
        assert body | {"id": None} == {
            "id": None,
            "name": "Q3 Insurance Renewal",
            "status": "draft",
            "dialing_mode": "progressive",
            "cli_group_id": str(group),
            "max_attempts": 3,
            "retry_delay_minutes": 60,
            "dial_ratio": 1.5,
            "timezone": "Asia/Dubai",
            "wrap_up_seconds": 15,
            "abandon_rate_target": 3.0,
            "abandon_lockout_hours": 72,
            "abandon_message": None,
            "calling_window": None,
            "total_contacts": 0,
            "contacted": 0,
            "connected": 0,
            "abandon_rate": 0.0,
            "created_at": isoformat_z(clock.now()),
            "updated_at": isoformat_z(clock.now()),
            "started_at": None,
            "paused_at": None,
            "completed_at": None,
        }
        stored = await db.campaigns(tenant.id)
        assert [(str(c.id), c.tenant_id, c.status) for c in stored] == [(body["id"], tenant.id, "draft")]

    async def test_the_seeds_full_body_is_stored_as_sent_with_numbers_as_json_numbers(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder, db: Db
    ) -> None:
        group = await build.cli_group(tenant)

        response = await client.post(
            "/v1/campaigns",
            headers=headers,
            json={
                "name": "Q3 Insurance Renewal",
                "dialing_mode": "power",
                "cli_group_id": str(group),
                "max_attempts": 4,
                "retry_delay_minutes": 90,
                "dial_ratio": 2.25,
                "timezone": "Asia/Riyadh",
                "wrap_up_seconds": 30,
                "abandon_rate_target": 2.5,
                "calling_window": {"start": "09:30", "end": "17:45"},
            },
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["max_attempts"], body["retry_delay_minutes"], body["timezone"]) == (4, 90, "Asia/Riyadh")
        assert body["dial_ratio"] == 2.25
        assert isinstance(body["dial_ratio"], float)
        assert body["abandon_rate_target"] == 2.5
        assert isinstance(body["abandon_rate"], float)
        assert body["calling_window"] == {"start": "09:30", "end": "17:45"}
        stored = await db.campaign(tenant.id, uuid.UUID(body["id"]))
        assert stored is not None
        assert (stored.dialing_mode, str(stored.dial_ratio), stored.wrap_up_seconds) == ("power", "2.25", 30)
        assert (stored.calling_window_start, stored.calling_window_end) == (
            datetime.strptime("09:30", "%H:%M").time(),
            datetime.strptime("17:45", "%H:%M").time(),
        )

    async def test_another_tenants_cli_group_is_422_unknown_cli_group_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
    ) -> None:
        theirs = await build.cli_group(other_tenant)

        response = await client.post(
            "/v1/campaigns",
            headers=headers,
            json={"name": "Q3", "dialing_mode": "preview", "cli_group_id": str(theirs)},
        )

        body = assert_problem(response, 422, "unknown-cli-group")
        assert str(theirs) in body["detail"]
        assert await db.campaigns(tenant.id) == []
        assert await db.campaigns(other_tenant.id) == []

    async def test_an_unknown_cli_group_is_422(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/campaigns",
            headers=headers,
            json={"name": "Q3", "dialing_mode": "preview", "cli_group_id": str(uuid.uuid4())},
        )

        assert_problem(response, 422, "unknown-cli-group")
        assert await db.campaigns(tenant.id) == []


class TestListCampaigns:
    async def test_lists_the_tenants_campaigns_only_newest_first_with_the_seeds_item_fields(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
    ) -> None:
        first = await build.campaign(tenant)
        second = await build.campaign(tenant)
        await build.campaign(other_tenant)

        response = await client.get("/v1/campaigns", headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert [item["id"] for item in body["items"]] == [str(second), str(first)]
        assert (body["total"], body["has_more"], body["next_cursor"]) == (2, False, None)
        assert all(set(item) == CAMPAIGN_FIELDS for item in body["items"])

    async def test_a_listed_campaign_is_the_body_its_own_get_returns(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        """The listing writes records as plain values, the single GET through the model: the two bodies agree,
        every field set (calling window, abandon message, numbers stored as decimals, counters)."""
        group = await build.cli_group(tenant)
        created = await client.post(
            "/v1/campaigns",
            headers=headers,
            json={
                "name": "Q3 Insurance Renewal",
                "dialing_mode": "power",
                "cli_group_id": str(group),
                "dial_ratio": 2.25,
                "abandon_rate_target": 2.5,
                "abandon_message": "ivr/sorry-we-missed-you.wav",
                "calling_window": {"start": "09:30", "end": "17:45"},
            },
        )
        assert created.status_code == 201, created.text
        campaign = uuid.UUID(created.json()["id"])
        await build.contacts(tenant, campaign, 2)
        await build.contacts(tenant, campaign, 1, status="connected", attempts=1)

        listed = await client.get("/v1/campaigns", headers=headers)
        single = await client.get(f"/v1/campaigns/{campaign}", headers=headers)

        assert listed.json()["items"] == [single.json()]
        assert single.json()["total_contacts"] == 3
        assert single.json()["calling_window"] == {"start": "09:30", "end": "17:45"}

    async def test_counters_come_from_the_stored_contacts_of_each_campaign(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        busy = await build.campaign(tenant)
        await build.contacts(tenant, busy, 3)
        await build.contacts(tenant, busy, 2, status="pending", attempts=1)
        await build.contacts(tenant, busy, 1, status="failed", attempts=3)
        await build.contacts(tenant, busy, 2, status="connected", attempts=1)
        await build.contacts(tenant, busy, 1, status="completed", attempts=2)
        await build.contacts(tenant, busy, 1, status="dnc")
        empty = await build.campaign(tenant)

        response = await client.get("/v1/campaigns", headers=headers)

        items = {item["id"]: item for item in response.json()["items"]}
        counters = ("total_contacts", "contacted", "connected", "abandon_rate")
        assert tuple(items[str(busy)][k] for k in counters) == (10, 6, 3, 0.0)
        assert tuple(items[str(empty)][k] for k in counters) == (0, 0, 0, 0.0)

    async def test_status_and_dialing_mode_filters_combine(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        wanted = await build.campaign(tenant, CampaignStatus.active, dialing_mode="power")
        await build.campaign(tenant, CampaignStatus.active, dialing_mode="preview")
        await build.campaign(tenant, CampaignStatus.draft, dialing_mode="power")

        by_status = await client.get("/v1/campaigns", headers=headers, params={"status": "active"})
        both = await client.get("/v1/campaigns", headers=headers, params={"status": "active", "dialing_mode": "power"})

        assert by_status.json()["total"] == 2
        assert [item["id"] for item in both.json()["items"]] == [str(wanted)]
        assert both.json()["total"] == 1

    async def test_created_range_is_inclusive_at_both_ends(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder, clock: ManualClock
    ) -> None:
        start = clock.now()
        await build.campaign(tenant)
        clock.advance(3600)
        inside = await build.campaign(tenant)
        clock.advance(3600)
        last = await build.campaign(tenant)
        clock.advance(3600)
        await build.campaign(tenant)

        response = await client.get(
            "/v1/campaigns",
            headers=headers,
            params={
                "created_from": isoformat_z(start + timedelta(hours=1)),
                "created_to": isoformat_z(start + timedelta(hours=2)),
            },
        )

        assert [item["id"] for item in response.json()["items"]] == [str(last), str(inside)]

    async def test_pages_of_a_filtered_list_follow_the_cursor(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        previews = [await build.campaign(tenant, dialing_mode="preview") for _ in range(3)]
        await build.campaign(tenant, dialing_mode="power")
        params: dict[str, str | int] = {"dialing_mode": "preview", "limit": 2}

        first = (await client.get("/v1/campaigns", headers=headers, params=params)).json()
        second = (
            await client.get("/v1/campaigns", headers=headers, params=params | {"cursor": first["next_cursor"]})
        ).json()

        assert [i["id"] for i in first["items"]] == [str(previews[2]), str(previews[1])]
        assert (first["total"], first["has_more"]) == (3, True)
        assert [i["id"] for i in second["items"]] == [str(previews[0])]
        assert (second["total"], second["has_more"], second["next_cursor"]) == (3, False, None)

    async def test_the_default_page_is_20(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        group = await build.cli_group(tenant)
        for _ in range(21):
            await build.campaign(tenant, cli_group_id=group)

        body = (await client.get("/v1/campaigns", headers=headers)).json()

        assert (len(body["items"]), body["total"], body["has_more"]) == (20, 21, True)

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"status": "running"}, "status"),
            ({"dialing_mode": "auto"}, "dialing_mode"),
            ({"created_from": "yesterday"}, "created_from"),
            ({"created_from": "2026-06-01T00:00:00"}, "created_from"),
            ({"created_from": "2026-06-02T00:00:00Z", "created_to": "2026-06-01T00:00:00Z"}, "created_from"),
            ({"limit": 101}, "limit"),
            ({"limit": 0}, "limit"),
        ],
    )
    async def test_a_bad_filter_or_limit_is_400_naming_it(
        self, client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str], field: str
    ) -> None:
        response = await client.get("/v1/campaigns", headers=headers, params=params)

        assert error_fields(assert_problem(response, 400, "validation-error")) == {field}

    async def test_a_garbled_cursor_is_400(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/campaigns", headers=headers, params={"cursor": "garbage!"})

        assert_problem(response, 400, "invalid-cursor")


class TestGetCampaign:
    async def test_returns_the_campaign_with_its_counters(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)
        await build.contacts(tenant, campaign, 2)
        await build.contacts(tenant, campaign, 1, status="connected", attempts=1)

        response = await client.get(f"/v1/campaigns/{campaign}", headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == CAMPAIGN_FIELDS
        assert (body["id"], body["total_contacts"], body["contacted"], body["connected"]) == (str(campaign), 3, 1, 1)

    async def test_a_campaign_of_another_tenant_is_404(
        self, client: httpx.AsyncClient, other_tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        theirs = await build.campaign(other_tenant, name="Their secret campaign")

        response = await client.get(f"/v1/campaigns/{theirs}", headers=headers)

        assert_problem(response, 404, "campaign-not-found")
        assert "Their secret campaign" not in response.text

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        assert_problem(await client.get(f"/v1/campaigns/{uuid.uuid4()}", headers=headers), 404, "campaign-not-found")


class TestUpdateCampaign:
    @pytest.mark.parametrize("status", [CampaignStatus.draft, CampaignStatus.paused])
    async def test_settings_change_while_draft_or_paused_and_only_the_fields_sent(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
        status: CampaignStatus,
    ) -> None:
        campaign = await build.campaign(tenant, status, calling_window={"start": "09:00", "end": "18:00"})
        new_group = await build.cli_group(tenant)
        clock.advance(60)

        response = await client.patch(
            f"/v1/campaigns/{campaign}",
            headers=headers,
            json={
                "name": "Renamed",
                "dialing_mode": "predictive",
                "cli_group_id": str(new_group),
                "dial_ratio": 3,
                "timezone": "Africa/Cairo",
                "calling_window": None,
            },
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["name"], body["dialing_mode"], body["cli_group_id"], body["status"]) == (
            "Renamed",
            "predictive",
            str(new_group),
            status.value,
        )
        assert (body["dial_ratio"], body["timezone"], body["calling_window"]) == (3.0, "Africa/Cairo", None)
        assert (body["max_attempts"], body["retry_delay_minutes"]) == (3, 60)
        assert body["updated_at"] == isoformat_z(clock.now())
        stored = await db.campaign(tenant.id, campaign)
        assert stored is not None
        assert (stored.name, stored.cli_group_id, stored.calling_window_start, stored.calling_window_end) == (
            "Renamed",
            new_group,
            None,
            None,
        )

    @pytest.mark.parametrize("status", [CampaignStatus.active, CampaignStatus.completed])
    async def test_an_active_or_completed_campaign_is_409_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
        status: CampaignStatus,
    ) -> None:
        campaign = await build.campaign(tenant, status)
        before = await db.campaign(tenant.id, campaign)

        response = await client.patch(f"/v1/campaigns/{campaign}", headers=headers, json={"name": "Renamed"})

        body = assert_problem(response, 409, "campaign-not-editable")
        assert status.value in body["detail"]
        after = await db.campaign(tenant.id, campaign)
        assert before is not None
        assert after is not None
        assert (after.name, after.updated_at) == (before.name, before.updated_at)

    async def test_another_tenants_cli_group_is_422_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
    ) -> None:
        campaign = await build.campaign(tenant)
        theirs = await build.cli_group(other_tenant)

        response = await client.patch(
            f"/v1/campaigns/{campaign}", headers=headers, json={"name": "Renamed", "cli_group_id": str(theirs)}
        )

        assert_problem(response, 422, "unknown-cli-group")
        stored = await db.campaign(tenant.id, campaign)
        assert stored is not None
        assert (stored.name, stored.cli_group_id) != ("Renamed", theirs)
        assert stored.name == "Q3 Insurance Renewal"

    async def test_a_campaign_of_another_tenant_is_404_and_nothing_changes(
        self, client: httpx.AsyncClient, other_tenant: Tenant, headers: dict[str, str], build: Builder, db: Db
    ) -> None:
        theirs = await build.campaign(other_tenant)

        response = await client.patch(f"/v1/campaigns/{theirs}", headers=headers, json={"name": "Hijacked"})

        assert_problem(response, 404, "campaign-not-found")
        stored = await db.campaign(other_tenant.id, theirs)
        assert stored is not None
        assert stored.name == "Q3 Insurance Renewal"
