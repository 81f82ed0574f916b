"""POST /v1/dnc: numbers normalised in the tenant's country, counted (added, duplicates, invalid), listed once
per tenant with source `manual` and the caller as `added_by`, one `dnc.added` event each (issue 3 point 7)."""

from __future__ import annotations

import httpx
import pytest

from engage.core.clock import ManualClock, isoformat_z
from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Db, TenantIn


class TestAddNumbers:
    async def test_admin_adds_numbers_and_gets_201_with_the_counts(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/dnc", headers=headers, json={"phones": ["+971509876543", "+971501234567"], "reason": "Asked"}
        )

        assert response.status_code == 201, response.text
        assert response.json() == {"added": 2, "duplicates_skipped": 0, "invalid_phones": 0}
        assert await db.phones(tenant.id) == ["+971501234567", "+971509876543"]

    async def test_an_entry_stores_source_manual_the_reason_the_caller_and_the_time(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        admin: User,
        headers: dict[str, str],
        db: Db,
        clock: ManualClock,
    ) -> None:
        clock.advance(3600)

        await client.post(
            "/v1/dnc", headers=headers, json={"phones": ["+971509876543"], "reason": "  Customer requested  "}
        )

        [entry] = await db.entries(tenant.id)
        assert entry.id.version == 7
        assert entry.tenant_id == tenant.id
        assert (entry.phone, entry.source, entry.reason) == ("+971509876543", "manual", "Customer requested")
        assert entry.added_by == admin.id
        assert entry.added_at == clock.now()

    async def test_reason_is_optional_and_stored_null(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543"]})

        assert response.status_code == 201, response.text
        [entry] = await db.entries(tenant.id)
        assert entry.reason is None

    async def test_a_supervisor_may_add_numbers(
        self, client: httpx.AsyncClient, tenant: Tenant, supervisor: User, supervisor_headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post("/v1/dnc", headers=supervisor_headers, json={"phones": ["+971509876543"]})

        assert response.status_code == 201, response.text
        [entry] = await db.entries(tenant.id)
        assert entry.added_by == supervisor.id

    async def test_an_agent_may_not_add_numbers_and_nothing_is_stored(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, db: Db
    ) -> None:
        agent = await factory.user(tenant, Role.agent)

        response = await client.post("/v1/dnc", headers=factory.headers(agent), json={"phones": ["+971509876543"]})

        assert_problem(response, 403, "forbidden")
        assert await db.count_entries(tenant.id) == 0
        assert await db.events(tenant.id) == []

    async def test_adding_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/dnc", json={"phones": ["+971509876543"]})

        assert_problem(response, 401, "unauthorized")


class TestCounts:
    async def test_invalid_numbers_are_counted_and_not_stored(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/dnc", headers=headers, json={"phones": ["+971509876543", "12345", "not a phone", "", "+9715"]}
        )

        assert response.status_code == 201, response.text
        assert response.json() == {"added": 1, "duplicates_skipped": 0, "invalid_phones": 4}
        assert await db.phones(tenant.id) == ["+971509876543"]

    async def test_a_number_given_twice_in_one_request_in_any_format_is_stored_once_and_counted_a_duplicate(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/dnc",
            headers=headers,
            json={"phones": ["+971509876543", "0509876543", "00971 50 987 6543", "+971501234567"]},
        )

        assert response.json() == {"added": 2, "duplicates_skipped": 2, "invalid_phones": 0}
        assert await db.phones(tenant.id) == ["+971501234567", "+971509876543"]

    async def test_a_number_already_listed_is_counted_a_duplicate_and_keeps_its_first_entry(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, clock: ManualClock
    ) -> None:
        await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543"], "reason": "First"})
        [first] = await db.entries(tenant.id)
        clock.advance(60)

        response = await client.post(
            "/v1/dnc", headers=headers, json={"phones": ["0509876543", "+971501234567"], "reason": "Second"}
        )

        assert response.status_code == 201, response.text
        assert response.json() == {"added": 1, "duplicates_skipped": 1, "invalid_phones": 0}
        entries = {entry.phone: entry for entry in await db.entries(tenant.id)}
        assert (entries["+971509876543"].id, entries["+971509876543"].reason) == (first.id, "First")
        assert entries["+971509876543"].added_at == first.added_at

    async def test_a_request_whose_numbers_are_all_already_listed_is_still_201_with_the_counts(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543", "+971501234567"]})

        response = await client.post(
            "/v1/dnc", headers=headers, json={"phones": ["+971509876543", "0501234567", "bogus"]}
        )

        assert response.status_code == 201, response.text
        assert response.json() == {"added": 0, "duplicates_skipped": 2, "invalid_phones": 1}
        assert await db.count_entries(tenant.id) == 2

    async def test_a_request_of_only_invalid_numbers_is_201_with_nothing_added(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post("/v1/dnc", headers=headers, json={"phones": ["abc", "123"]})

        assert response.status_code == 201, response.text
        assert response.json() == {"added": 0, "duplicates_skipped": 0, "invalid_phones": 2}
        assert await db.count_entries(tenant.id) == 0

    async def test_a_number_another_tenant_listed_is_added_here_too(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        other_tenant: Tenant,
        other_headers: dict[str, str],
        db: Db,
    ) -> None:
        await client.post("/v1/dnc", headers=other_headers, json={"phones": ["+971509876543"]})

        response = await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543"]})

        assert response.json() == {"added": 1, "duplicates_skipped": 0, "invalid_phones": 0}
        assert await db.phones(tenant.id) == ["+971509876543"]
        assert await db.phones(other_tenant.id) == ["+971509876543"]


class TestNormalisation:
    @pytest.mark.parametrize(
        ("raw", "e164"),
        [
            pytest.param("0509876543", "+971509876543", id="ae-local-mobile"),
            pytest.param("050 987 6543", "+971509876543", id="ae-local-mobile-spaced"),
            pytest.param("04 412 3456", "+97144123456", id="ae-local-dubai-landline"),
            pytest.param("+97144123456", "+97144123456", id="ae-e164"),
            pytest.param("00971509876543", "+971509876543", id="ae-international-00"),
            pytest.param("+971 (50) 987-6543", "+971509876543", id="ae-international-punctuated"),
            pytest.param("+966501234567", "+966501234567", id="sa-e164-in-an-ae-tenant"),
            pytest.param("+201001234567", "+201001234567", id="eg-e164-in-an-ae-tenant"),
            pytest.param("+962791234567", "+962791234567", id="jo-e164-in-an-ae-tenant"),
        ],
    )
    async def test_a_number_is_stored_in_e164_read_in_an_ae_tenants_country(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, raw: str, e164: str
    ) -> None:
        response = await client.post("/v1/dnc", headers=headers, json={"phones": [raw]})

        assert response.json() == {"added": 1, "duplicates_skipped": 0, "invalid_phones": 0}
        assert await db.phones(tenant.id) == [e164]

    @pytest.mark.parametrize(
        ("country", "raw", "e164"),
        [
            pytest.param("SA", "0501234567", "+966501234567", id="sa-local-mobile"),
            pytest.param("SA", "011 234 5678", "+966112345678", id="sa-local-riyadh-landline"),
            pytest.param("SA", "+966501234567", "+966501234567", id="sa-e164"),
            pytest.param("EG", "01001234567", "+201001234567", id="eg-local-mobile"),
            pytest.param("EG", "02 2345 6789", "+20223456789", id="eg-local-cairo-landline"),
            pytest.param("EG", "+201001234567", "+201001234567", id="eg-e164"),
            pytest.param("JO", "0791234567", "+962791234567", id="jo-local-mobile"),
            pytest.param("JO", "06 500 1234", "+96265001234", id="jo-local-amman-landline"),
            pytest.param("JO", "00962791234567", "+962791234567", id="jo-international-00"),
            pytest.param("SA", "0509876543", "+966509876543", id="local-format-is-the-tenants-country-not-ae"),
        ],
    )
    async def test_a_local_number_is_read_in_the_tenants_own_country(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant_in: TenantIn,
        db: Db,
        country: str,
        raw: str,
        e164: str,
    ) -> None:
        tenant = await tenant_in(country)
        admin = await factory.user(tenant, Role.admin)

        response = await client.post("/v1/dnc", headers=factory.headers(admin), json={"phones": [raw]})

        assert response.json() == {"added": 1, "duplicates_skipped": 0, "invalid_phones": 0}
        assert await db.phones(tenant.id) == [e164]

    async def test_a_local_number_not_valid_in_the_tenants_country_is_invalid(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        # A Jordanian mobile in local format means nothing in the UAE numbering plan.
        response = await client.post("/v1/dnc", headers=headers, json={"phones": ["0791234567"]})

        assert response.json() == {"added": 0, "duplicates_skipped": 0, "invalid_phones": 1}
        assert await db.count_entries(tenant.id) == 0


class TestLimit:
    async def test_5000_numbers_in_one_request_are_accepted(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        phones = [f"+97150{n:07d}" for n in range(5000)]

        response = await client.post("/v1/dnc", headers=headers, json={"phones": phones})

        assert response.status_code == 201, response.text
        assert response.json() == {"added": 5000, "duplicates_skipped": 0, "invalid_phones": 0}
        assert await db.count_entries(tenant.id) == 5000
        assert len(await db.events(tenant.id)) == 5000

    async def test_more_than_5000_numbers_is_413_and_nothing_is_stored(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        phones = [f"+97150{n:07d}" for n in range(5001)]

        response = await client.post("/v1/dnc", headers=headers, json={"phones": phones})

        problem = assert_problem(response, 413, "too-many-phones")
        assert (problem["max_phones"], problem["received"]) == (5000, 5001)
        assert await db.count_entries(tenant.id) == 0
        assert await db.events(tenant.id) == []


class TestOutboxEvents:
    async def test_one_dnc_added_event_per_added_number_with_its_payload(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        admin: User,
        headers: dict[str, str],
        db: Db,
        clock: ManualClock,
    ) -> None:
        response = await client.post(
            "/v1/dnc",
            headers=headers,
            json={"phones": ["+971509876543", "0501234567", "0509876543", "bogus"], "reason": "Complaint"},
        )

        assert response.json()["added"] == 2
        entries = {entry.phone: entry for entry in await db.entries(tenant.id)}
        events = await db.events(tenant.id)
        assert len(events) == 2
        for event in events:
            entry = entries[event.payload["phone"]]
            assert event.tenant_id == tenant.id
            assert event.correlation_id == entry.id
            assert event.occurred_at == clock.now()
            assert event.payload == {
                "dnc_id": str(entry.id),
                "phone": entry.phone,
                "source": "manual",
                "reason": "Complaint",
                "added_by": str(admin.id),
                "added_at": isoformat_z(clock.now()),
            }

    async def test_no_event_for_a_number_already_listed(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543"]})

        await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543", "0509876543"]})

        assert len(await db.events(tenant.id)) == 1

    async def test_events_go_to_the_callers_tenant_only(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        other_tenant: Tenant,
        db: Db,
    ) -> None:
        await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543"]})

        assert len(await db.events(tenant.id)) == 1
        assert await db.events(other_tenant.id) == []
