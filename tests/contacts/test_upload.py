"""POST /v1/campaigns/{id}/contacts: normalisation to E.164 in the tenant's country, the seed's counts,
deduplication, DNC marking, the 10,000 limit and bad input (issue 3 point 5)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engage.campaigns.models import Campaign
from engage.contacts import service as contacts_service
from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Db

COUNTS = {"imported", "duplicates_skipped", "dnc_filtered", "invalid_phones", "total_in_campaign"}


def url(campaign: Campaign) -> str:
    return f"/v1/campaigns/{campaign.id}/contacts"


def contacts(*phones: str) -> dict[str, Any]:
    return {"contacts": [{"phone": phone} for phone in phones]}


class TestNormalisation:
    @pytest.mark.parametrize(
        ("country", "raw", "e164"),
        [
            pytest.param("AE", "0501234567", "+971501234567", id="AE-local-mobile"),
            pytest.param("AE", "050 123 4567", "+971501234567", id="AE-local-with-spaces"),
            pytest.param("AE", "044561234", "+97144561234", id="AE-local-landline"),
            pytest.param("AE", "+971501234567", "+971501234567", id="AE-e164"),
            pytest.param("AE", "00971501234567", "+971501234567", id="AE-00-international"),
            pytest.param("AE", "+966501234567", "+966501234567", id="SA-e164-from-AE-tenant"),
            pytest.param("AE", "00966501234567", "+966501234567", id="SA-00-from-AE-tenant"),
            pytest.param("SA", "0501234567", "+966501234567", id="SA-local"),
            pytest.param("SA", "+966 50 123 4567", "+966501234567", id="SA-international-spaced"),
            pytest.param("EG", "01012345678", "+201012345678", id="EG-local"),
            pytest.param("EG", "+201012345678", "+201012345678", id="EG-e164"),
            pytest.param("EG", "00201012345678", "+201012345678", id="EG-00-international"),
            pytest.param("JO", "0791234567", "+962791234567", id="JO-local"),
            pytest.param("JO", "+962791234567", "+962791234567", id="JO-e164"),
            pytest.param("JO", "00962791234567", "+962791234567", id="JO-00-international"),
        ],
    )
    async def test_phone_is_stored_as_e164_reading_local_format_in_the_tenants_country(
        self, client: httpx.AsyncClient, factory: Factory, db: Db, country: str, raw: str, e164: str
    ) -> None:
        tenant = await db.tenant(country)
        campaign = await db.campaign(tenant)
        headers = factory.headers(await factory.user(tenant, Role.supervisor))

        response = await client.post(url(campaign), headers=headers, json=contacts(raw))

        assert response.status_code == 201, response.text
        assert response.json()["imported"] == 1
        assert [c.phone for c in await db.contacts(tenant, campaign.id)] == [e164]

    @pytest.mark.parametrize(
        "raw",
        ["12345", "not a phone", "", "+9715", "050123456789012345", "0791234567", "+999123456789", "1" * 200],
    )
    async def test_an_invalid_number_is_counted_and_not_stored(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db, raw: str
    ) -> None:
        # 0791234567 is a Jordanian mobile in local format: read in the AE tenant's country it is not valid.
        response = await client.post(url(campaign), headers=headers, json=contacts(raw, "+971501234567"))

        assert response.status_code == 201, response.text
        assert response.json()["invalid_phones"] == 1
        assert response.json()["imported"] == 1
        assert [c.phone for c in await db.contacts(tenant, campaign.id)] == ["+971501234567"]


class TestUploadCounts:
    async def test_upload_returns_the_seeds_counts_and_stores_the_fields(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        body = {
            "contacts": [
                {
                    "phone": "+971501234567",
                    "first_name": "Ahmad",
                    "last_name": "Al Rashid",
                    "custom_fields": {"account_number": "ACC-00421", "renewal_date": "2026-07-15", "vip": True},
                },
                {"phone": "+97144561234", "first_name": "Sara", "last_name": "Hassan"},
            ]
        }

        response = await client.post(url(campaign), headers=headers, json=body)

        assert response.status_code == 201, response.text
        assert response.json() == {
            "imported": 2,
            "duplicates_skipped": 0,
            "dnc_filtered": 0,
            "invalid_phones": 0,
            "total_in_campaign": 2,
        }
        stored = {c.phone: c for c in await db.contacts(tenant, campaign.id)}
        ahmad = stored["+971501234567"]
        assert (ahmad.first_name, ahmad.last_name, ahmad.status, ahmad.attempts) == ("Ahmad", "Al Rashid", "pending", 0)
        assert ahmad.custom_fields == {"account_number": "ACC-00421", "renewal_date": "2026-07-15", "vip": True}
        assert ahmad.tenant_id == tenant.id
        assert stored["+97144561234"].custom_fields == {}

    # A request is normalised and inserted in chunks (contacts.service.UPLOAD_CHUNK): with chunks of two, a
    # repeat, a DNC number and an invalid one each sit in a different chunk from the number they relate to.
    @pytest.mark.parametrize("chunk", [contacts_service.UPLOAD_CHUNK, 2, 1])
    async def test_mixed_batch_counts_partition_the_request(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        campaign: Campaign,
        tenant: Tenant,
        db: Db,
        monkeypatch: pytest.MonkeyPatch,
        chunk: int,
    ) -> None:
        monkeypatch.setattr(contacts_service, "UPLOAD_CHUNK", chunk)
        await db.dnc(tenant, "+971501111111")
        first = await client.post(url(campaign), headers=headers, json=contacts("+971502222222", "+971503333333"))
        assert first.status_code == 201, first.text

        response = await client.post(
            url(campaign),
            headers=headers,
            json=contacts(
                "+971504444444",  # new
                "0504444444",  # the same number in local format: a repeat within the request
                "+971502222222",  # already in the campaign
                "+971501111111",  # on the tenant DNC list
                "garbage",  # invalid
                "+971505555555",  # new
            ),
        )

        assert response.status_code == 201, response.text
        assert response.json() == {
            "imported": 2,
            "duplicates_skipped": 2,
            "dnc_filtered": 1,
            "invalid_phones": 1,
            "total_in_campaign": 5,
        }
        statuses = {c.phone: c.status for c in await db.contacts(tenant, campaign.id)}
        assert statuses == {
            "+971501111111": "dnc",
            "+971502222222": "pending",
            "+971503333333": "pending",
            "+971504444444": "pending",
            "+971505555555": "pending",
        }

    async def test_a_number_on_the_tenant_dnc_list_is_stored_with_status_dnc(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        await db.dnc(tenant, "+971501234567")

        response = await client.post(url(campaign), headers=headers, json=contacts("0501234567", "+971509999999"))

        assert response.json()["dnc_filtered"] == 1
        assert response.json()["imported"] == 1
        statuses = {c.phone: c.status for c in await db.contacts(tenant, campaign.id)}
        assert statuses == {"+971501234567": "dnc", "+971509999999": "pending"}

    async def test_another_tenants_dnc_list_does_not_mark_this_tenants_contacts(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        campaign: Campaign,
        tenant: Tenant,
        other_tenant: Tenant,
        db: Db,
    ) -> None:
        await db.dnc(other_tenant, "+971501234567")

        response = await client.post(url(campaign), headers=headers, json=contacts("+971501234567"))

        assert response.json()["dnc_filtered"] == 0
        assert [c.status for c in await db.contacts(tenant, campaign.id)] == ["pending"]

    async def test_the_first_of_repeated_numbers_in_a_request_wins(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        body = {
            "contacts": [
                {"phone": "+971501234567", "first_name": "First"},
                {"phone": "00971501234567", "first_name": "Second"},
            ]
        }

        response = await client.post(url(campaign), headers=headers, json=body)

        assert response.json()["duplicates_skipped"] == 1
        assert [c.first_name for c in await db.contacts(tenant, campaign.id)] == ["First"]

    async def test_a_number_already_in_the_campaign_is_skipped_and_left_unchanged(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        await client.post(
            url(campaign), headers=headers, json={"contacts": [{"phone": "+971501234567", "first_name": "A"}]}
        )

        response = await client.post(
            url(campaign), headers=headers, json={"contacts": [{"phone": "0501234567", "first_name": "B"}]}
        )

        assert response.json() == {
            "imported": 0,
            "duplicates_skipped": 1,
            "dnc_filtered": 0,
            "invalid_phones": 0,
            "total_in_campaign": 1,
        }
        assert [c.first_name for c in await db.contacts(tenant, campaign.id)] == ["A"]

    async def test_the_same_number_may_be_in_two_campaigns(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        second = await db.campaign(tenant, name="Second")
        await client.post(url(campaign), headers=headers, json=contacts("+971501234567"))

        response = await client.post(url(second), headers=headers, json=contacts("+971501234567"))

        assert response.json()["imported"] == 1
        assert response.json()["total_in_campaign"] == 1

    @pytest.mark.parametrize("status", ["active", "paused"])
    async def test_an_active_or_paused_campaign_takes_contacts(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, db: Db, status: str
    ) -> None:
        campaign = await db.campaign(tenant, status=status)

        response = await client.post(url(campaign), headers=headers, json=contacts("+971501234567"))

        assert response.status_code == 201


class TestUploadRefusals:
    async def test_more_than_10000_contacts_is_413_and_nothing_is_stored(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        phones = [f"+9715{n:08d}" for n in range(10_001)]

        response = await client.post(url(campaign), headers=headers, json=contacts(*phones))

        body = assert_problem(response, 413, "too-many-contacts")
        assert body["max_contacts"] == 10_000
        assert await db.count(tenant, campaign.id) == 0

    async def test_exactly_10000_contacts_are_accepted(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        phones = [f"+9715{n:08d}" for n in range(10_000)]

        response = await client.post(url(campaign), headers=headers, json=contacts(*phones))

        assert response.status_code == 201, response.text
        assert response.json()["imported"] == 10_000
        assert response.json()["total_in_campaign"] == 10_000

    @pytest.mark.parametrize(
        "custom_fields",
        [
            pytest.param({"address": {"city": "Dubai"}}, id="nested-object"),
            pytest.param({"tags": ["a", "b"]}, id="array-value"),
            pytest.param(["a", "b"], id="array-not-object"),
            pytest.param("ACC-1", id="string-not-object"),
            pytest.param({"": "empty key"}, id="empty-key"),
        ],
    )
    async def test_custom_fields_that_are_not_an_object_of_scalars_are_400_and_nothing_is_stored(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        campaign: Campaign,
        tenant: Tenant,
        db: Db,
        custom_fields: object,
    ) -> None:
        body = {"contacts": [{"phone": "+971502222222"}, {"phone": "+971501234567", "custom_fields": custom_fields}]}

        response = await client.post(url(campaign), headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert any(field.startswith("contacts.1.custom_fields") for field in error_fields(problem))
        assert await db.count(tenant, campaign.id) == 0

    async def test_custom_fields_of_strings_numbers_booleans_and_null_are_kept_as_sent(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        fields = {"s": "x", "i": 42, "f": 1.5, "b": False, "n": None}

        await client.post(
            url(campaign), headers=headers, json={"contacts": [{"phone": "+971501234567", "custom_fields": fields}]}
        )

        assert [c.custom_fields for c in await db.contacts(tenant, campaign.id)] == [fields]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({}, "contacts", id="missing-contacts"),
            pytest.param({"contacts": []}, "contacts", id="empty-contacts"),
            pytest.param({"contacts": [{}]}, "contacts.0.phone", id="missing-phone"),
            pytest.param({"contacts": [{"phone": 971501234567}]}, "contacts.0.phone", id="phone-not-a-string"),
            pytest.param(
                {"contacts": [{"phone": "+971501234567", "first_name": "x" * 201}]},
                "contacts.0.first_name",
                id="long-name",
            ),
            pytest.param(
                {"contacts": [{"phone": "+971501234567", "email": "a@b.c"}]}, "contacts.0.email", id="extra-field"
            ),
        ],
    )
    async def test_bad_bodies_are_400_naming_the_field(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        campaign: Campaign,
        tenant: Tenant,
        db: Db,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post(url(campaign), headers=headers, json=body)

        assert field in error_fields(assert_problem(response, 400, "validation-error"))
        assert await db.count(tenant, campaign.id) == 0

    async def test_tenant_id_in_the_body_is_422(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        campaign: Campaign,
        tenant: Tenant,
        other_tenant: Tenant,
        db: Db,
    ) -> None:
        body = contacts("+971501234567") | {"tenant_id": str(other_tenant.id)}

        response = await client.post(url(campaign), headers=headers, json=body)

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.count(tenant, campaign.id) == 0

    async def test_another_tenants_campaign_is_404_and_nothing_is_stored(
        self,
        client: httpx.AsyncClient,
        other_headers: dict[str, str],
        campaign: Campaign,
        tenant: Tenant,
        db: Db,
    ) -> None:
        response = await client.post(url(campaign), headers=other_headers, json=contacts("+971501234567"))

        assert_problem(response, 404, "campaign-not-found")
        assert await db.count(tenant, campaign.id) == 0

    async def test_an_unknown_campaign_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.post(
            "/v1/campaigns/01919bcc-c2d3-7e4f-8a5b-6c7d8e9f0a1b/contacts",
            headers=headers,
            json=contacts("+971501234567"),
        )

        assert_problem(response, 404, "campaign-not-found")

    async def test_a_completed_campaign_is_409_and_nothing_is_stored(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, db: Db
    ) -> None:
        campaign = await db.campaign(tenant, status="completed")

        response = await client.post(url(campaign), headers=headers, json=contacts("+971501234567"))

        assert_problem(response, 409, "campaign-completed")
        assert await db.count(tenant, campaign.id) == 0

    async def test_an_agent_cannot_upload(
        self, client: httpx.AsyncClient, factory: Factory, campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        agent = await factory.user(tenant, Role.agent)

        response = await client.post(url(campaign), headers=factory.headers(agent), json=contacts("+971501234567"))

        assert_problem(response, 403, "forbidden")
        assert await db.count(tenant, campaign.id) == 0

    async def test_a_supervisor_can_upload(
        self, client: httpx.AsyncClient, factory: Factory, campaign: Campaign, tenant: Tenant
    ) -> None:
        supervisor = await factory.user(tenant, Role.supervisor)

        response = await client.post(url(campaign), headers=factory.headers(supervisor), json=contacts("+971501234567"))

        assert response.status_code == 201

    async def test_upload_without_a_token_is_401(self, client: httpx.AsyncClient, campaign: Campaign) -> None:
        assert_problem(await client.post(url(campaign), json=contacts("+971501234567")), 401, "unauthorized")

    async def test_a_campaign_id_that_is_not_a_uuid_is_400(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.post("/v1/campaigns/nope/contacts", headers=headers, json=contacts("+971501234567"))

        assert "campaign_id" in error_fields(assert_problem(response, 400, "validation-error"))
