"""GET /v1/campaigns/{id}/contacts: the seed's item shape, the status filter and cursor pages."""

from __future__ import annotations

import httpx
import pytest

from engage.campaigns.models import Campaign
from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Db

ITEM_FIELDS = {
    "id",
    "phone",
    "first_name",
    "last_name",
    "status",
    "attempts",
    "last_call_at",
    "disposition",
    "custom_fields",
}


def url(campaign: Campaign) -> str:
    return f"/v1/campaigns/{campaign.id}/contacts"


async def upload(client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, count: int) -> None:
    body = {"contacts": [{"phone": f"+9715010{n:05d}", "first_name": f"C{n}"} for n in range(count)]}
    response = await client.post(url(campaign), headers=headers, json=body)
    assert response.status_code == 201, response.text


class TestListContacts:
    async def test_items_have_the_seeds_shape(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        body = {
            "contacts": [
                {
                    "phone": "+971501234567",
                    "first_name": "Ahmad",
                    "last_name": "Al Rashid",
                    "custom_fields": {"account_number": "ACC-00421", "renewal_date": "2026-07-15"},
                }
            ]
        }
        await client.post(url(campaign), headers=headers, json=body)

        response = await client.get(url(campaign), headers=headers)

        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "total", "next_cursor", "has_more"}
        assert (page["total"], page["next_cursor"], page["has_more"]) == (1, None, False)
        [item] = page["items"]
        assert set(item) == ITEM_FIELDS
        assert item | {"id": None} == {
            "id": None,
            "phone": "+971501234567",
            "first_name": "Ahmad",
            "last_name": "Al Rashid",
            "status": "pending",
            "attempts": 0,
            "last_call_at": None,
            "disposition": None,
            "custom_fields": {"account_number": "ACC-00421", "renewal_date": "2026-07-15"},
        }

    async def test_status_filter_returns_only_that_status(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        await db.dnc(tenant, "+971509999999")
        await upload(client, headers, campaign, 3)
        await client.post(url(campaign), headers=headers, json={"contacts": [{"phone": "+971509999999"}]})

        dnc = (await client.get(url(campaign), headers=headers, params={"status": "dnc"})).json()
        pending = (await client.get(url(campaign), headers=headers, params={"status": "pending"})).json()
        failed = (await client.get(url(campaign), headers=headers, params={"status": "failed"})).json()

        assert [i["phone"] for i in dnc["items"]] == ["+971509999999"]
        assert dnc["total"] == 1
        assert pending["total"] == 3
        assert {i["status"] for i in pending["items"]} == {"pending"}
        assert failed == {"items": [], "total": 0, "next_cursor": None, "has_more": False}

    async def test_pages_follow_the_cursor_newest_first_without_overlap(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        await upload(client, headers, campaign, 5)

        first = (await client.get(url(campaign), headers=headers, params={"limit": 2})).json()
        second = (
            await client.get(url(campaign), headers=headers, params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        third = (
            await client.get(url(campaign), headers=headers, params={"limit": 2, "cursor": second["next_cursor"]})
        ).json()

        ids = [i["id"] for page in (first, second, third) for i in page["items"]]
        assert len(ids) == len(set(ids)) == 5
        assert ids == sorted(ids, reverse=True)
        assert (first["has_more"], second["has_more"], third["has_more"]) == (True, True, False)
        assert third["next_cursor"] is None
        assert first["total"] == 5

    async def test_default_page_is_50(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        await upload(client, headers, campaign, 51)

        page = (await client.get(url(campaign), headers=headers)).json()

        assert len(page["items"]) == 50
        assert page["has_more"] is True

    @pytest.mark.parametrize("limit", [0, 201])
    async def test_limit_outside_1_to_200_is_400(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, limit: int
    ) -> None:
        response = await client.get(url(campaign), headers=headers, params={"limit": limit})

        assert "limit" in error_fields(assert_problem(response, 400, "validation-error"))

    async def test_limit_200_is_allowed(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        assert (await client.get(url(campaign), headers=headers, params={"limit": 200})).status_code == 200

    async def test_an_unknown_status_is_400(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        response = await client.get(url(campaign), headers=headers, params={"status": "called"})

        assert "status" in error_fields(assert_problem(response, 400, "validation-error"))

    async def test_a_garbled_cursor_is_400(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        response = await client.get(url(campaign), headers=headers, params={"cursor": "not-a-cursor"})

        assert_problem(response, 400, "invalid-cursor")

    async def test_an_agent_may_list(
        self, client: httpx.AsyncClient, factory: Factory, headers: dict[str, str], campaign: Campaign, tenant: Tenant
    ) -> None:
        await upload(client, headers, campaign, 1)
        agent = await factory.user(tenant, Role.agent)

        response = await client.get(url(campaign), headers=factory.headers(agent))

        assert response.status_code == 200
        assert response.json()["total"] == 1

    async def test_another_tenants_campaign_is_404(
        self, client: httpx.AsyncClient, headers: dict[str, str], other_headers: dict[str, str], campaign: Campaign
    ) -> None:
        await upload(client, headers, campaign, 1)

        response = await client.get(url(campaign), headers=other_headers)

        assert_problem(response, 404, "campaign-not-found")

    async def test_listing_without_a_token_is_401(self, client: httpx.AsyncClient, campaign: Campaign) -> None:
        assert_problem(await client.get(url(campaign)), 401, "unauthorized")
