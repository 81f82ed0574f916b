"""Listing a number marks its not-yet-final contacts (pending, dialing) `dnc` in every campaign of the tenant,
in the same statement (the `dnc_entries_mark_contacts` trigger); final contacts and other tenants' contacts
are untouched, and removing the entry re-queues nobody (issue 3 point 7, DESIGN.md §3)."""

from __future__ import annotations

import httpx

from engage.tenancy.models import Tenant

from .conftest import Db

PHONE = "+971509876543"


class TestListingMarksContacts:
    async def test_pending_and_dialing_contacts_become_dnc_across_campaigns_and_completed_stays_completed(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        # One number is one contact per campaign (uq_contacts_campaign_id_phone), so each status has its own.
        renewals = await db.campaign(tenant, "Renewals")
        pending = await db.contact(tenant, renewals, PHONE, "pending")
        dialing = await db.contact(tenant, await db.campaign(tenant, "Upsell"), PHONE, "dialing")
        completed = await db.contact(tenant, await db.campaign(tenant, "Winback"), PHONE, "completed")
        other_number = await db.contact(tenant, renewals, "+971501234567", "pending")

        response = await client.post("/v1/dnc", headers=headers, json={"phones": ["0509876543"]})

        assert response.json()["added"] == 1
        assert await db.contact_status(tenant.id, pending) == "dnc"
        assert await db.contact_status(tenant.id, dialing) == "dnc"
        assert await db.contact_status(tenant.id, completed) == "completed"
        assert await db.contact_status(tenant.id, other_number) == "pending"

    async def test_pending_dialing_and_completed_contacts_in_two_campaigns_each_end_dnc_dnc_completed(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        expected = {"pending": "dnc", "dialing": "dnc", "completed": "completed"}
        contacts = []
        for campaign_number in range(2):
            for status, after in expected.items():
                campaign = await db.campaign(tenant, f"Campaign {campaign_number} {status}")
                contacts.append((await db.contact(tenant, campaign, PHONE, status), after))

        await client.post("/v1/dnc", headers=headers, json={"phones": [PHONE]})

        assert [await db.contact_status(tenant.id, contact_id) for contact_id, _ in contacts] == [
            after for _, after in contacts
        ]

    async def test_final_statuses_other_than_completed_are_untouched(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        statuses = ["connected", "failed"]
        contacts = [(await db.contact(tenant, await db.campaign(tenant, s), PHONE, s), s) for s in statuses]

        await client.post("/v1/dnc", headers=headers, json={"phones": [PHONE]})

        assert [await db.contact_status(tenant.id, contact_id) for contact_id, _ in contacts] == statuses

    async def test_another_tenants_contact_with_the_same_number_is_untouched(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], other_tenant: Tenant, db: Db
    ) -> None:
        mine = await db.contact(tenant, await db.campaign(tenant), PHONE, "pending")
        theirs = await db.contact(other_tenant, await db.campaign(other_tenant), PHONE, "pending")

        await client.post("/v1/dnc", headers=headers, json={"phones": [PHONE]})

        assert await db.contact_status(tenant.id, mine) == "dnc"
        assert await db.contact_status(other_tenant.id, theirs) == "pending"

    async def test_a_number_already_listed_changes_no_contact(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        await client.post("/v1/dnc", headers=headers, json={"phones": [PHONE]})
        # Stored after the listing, as `failed`: the insert trigger marks only pending contacts.
        contact = await db.contact(tenant, await db.campaign(tenant), PHONE, "failed")

        await client.post("/v1/dnc", headers=headers, json={"phones": [PHONE]})

        assert await db.contact_status(tenant.id, contact) == "failed"

    async def test_removing_the_entry_leaves_marked_contacts_dnc(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        contact = await db.contact(tenant, await db.campaign(tenant), PHONE, "pending")
        await client.post("/v1/dnc", headers=headers, json={"phones": [PHONE]})
        [entry] = await db.entries(tenant.id)

        response = await client.delete(f"/v1/dnc/{entry.id}", headers=headers)

        assert response.status_code == 204
        assert await db.contact_status(tenant.id, contact) == "dnc"

    async def test_a_refused_request_marks_no_contact(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        contact = await db.contact(tenant, await db.campaign(tenant), PHONE, "pending")

        response = await client.post("/v1/dnc", headers=headers, json={"phones": [PHONE] * 5001})

        assert response.status_code == 413
        assert await db.contact_status(tenant.id, contact) == "pending"
