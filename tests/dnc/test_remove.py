"""DELETE /v1/dnc/{id}: admins remove an entry of their own tenant (204) and a `dnc.removed` event is recorded;
anything else is a 404 or 403 and removes nothing, emits nothing. Removal does not re-queue contacts already
marked `dnc` (issue 3 point 7)."""

from __future__ import annotations

import uuid

import httpx

from engage.tenancy.models import Tenant

from ..problems import assert_problem
from .conftest import Db


async def _listed(client: httpx.AsyncClient, headers: dict[str, str], db: Db, tenant: Tenant, phone: str) -> uuid.UUID:
    response = await client.post("/v1/dnc", headers=headers, json={"phones": [phone]})
    assert response.status_code == 201, response.text
    return next(entry.id for entry in await db.entries(tenant.id) if entry.phone == phone)


class TestRemove:
    async def test_an_admin_removes_an_entry_and_gets_204(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        entry_id = await _listed(client, headers, db, tenant, "+971509876543")
        kept = await _listed(client, headers, db, tenant, "+971501234567")

        response = await client.delete(f"/v1/dnc/{entry_id}", headers=headers)

        assert response.status_code == 204, response.text
        assert response.content == b""
        assert [entry.id for entry in await db.entries(tenant.id)] == [kept]

    async def test_a_removal_emits_dnc_removed_paired_with_the_entry_s_dnc_added(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        entry_id = await _listed(client, headers, db, tenant, "+971509876543")

        await client.delete(f"/v1/dnc/{entry_id}", headers=headers)

        [added] = await db.events(tenant.id)
        [removed] = await db.events(tenant.id, "dnc.removed")
        assert removed.correlation_id == added.correlation_id == entry_id
        assert removed.payload["dnc_id"] == str(entry_id)
        assert removed.payload["phone"] == "+971509876543"
        assert removed.payload["source"] == "manual"
        assert removed.payload["removed_by"] == added.payload["added_by"]
        assert removed.payload["removed_at"].endswith("Z")

    async def test_a_refused_removal_emits_nothing(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        supervisor_headers: dict[str, str],
        other_tenant: Tenant,
        other_headers: dict[str, str],
        db: Db,
    ) -> None:
        entry_id = await _listed(client, headers, db, tenant, "+971509876543")
        theirs = await _listed(client, other_headers, db, other_tenant, "+971509876543")

        assert (await client.delete(f"/v1/dnc/{entry_id}", headers=supervisor_headers)).status_code == 403
        assert (await client.delete(f"/v1/dnc/{theirs}", headers=headers)).status_code == 404
        assert (await client.delete(f"/v1/dnc/{uuid.uuid4()}", headers=headers)).status_code == 404

        assert await db.events(tenant.id, "dnc.removed") == []
        assert await db.events(other_tenant.id, "dnc.removed") == []

    async def test_a_removed_number_can_be_added_again(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        entry_id = await _listed(client, headers, db, tenant, "+971509876543")
        await client.delete(f"/v1/dnc/{entry_id}", headers=headers)

        response = await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543"]})

        assert response.json() == {"added": 1, "duplicates_skipped": 0, "invalid_phones": 0}

    async def test_removing_an_entry_twice_is_404_the_second_time(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        entry_id = await _listed(client, headers, db, tenant, "+971509876543")
        await client.delete(f"/v1/dnc/{entry_id}", headers=headers)

        response = await client.delete(f"/v1/dnc/{entry_id}", headers=headers)

        assert_problem(response, 404, "dnc-entry-not-found")

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.delete(f"/v1/dnc/{uuid.uuid4()}", headers=headers)

        assert_problem(response, 404, "dnc-entry-not-found")

    async def test_a_malformed_id_is_400(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.delete("/v1/dnc/not-a-uuid", headers=headers)

        assert_problem(response, 400, "validation-error")

    async def test_another_tenants_entry_is_404_and_is_not_deleted(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        other_tenant: Tenant,
        other_headers: dict[str, str],
        db: Db,
    ) -> None:
        theirs = await _listed(client, other_headers, db, other_tenant, "+971509876543")

        response = await client.delete(f"/v1/dnc/{theirs}", headers=headers)

        assert_problem(response, 404, "dnc-entry-not-found")
        assert [entry.id for entry in await db.entries(other_tenant.id)] == [theirs]

    async def test_a_supervisor_may_not_remove_an_entry(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        supervisor_headers: dict[str, str],
        db: Db,
    ) -> None:
        entry_id = await _listed(client, headers, db, tenant, "+971509876543")

        response = await client.delete(f"/v1/dnc/{entry_id}", headers=supervisor_headers)

        assert_problem(response, 403, "forbidden")
        assert [entry.id for entry in await db.entries(tenant.id)] == [entry_id]

    async def test_removing_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.delete(f"/v1/dnc/{uuid.uuid4()}"), 401, "unauthorized")
