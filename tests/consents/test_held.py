"""`service.held`, the compliance engine's consent fact: the terms of every record of the tenant for the numbers
asked about, by number, as one subquery of the engine's statement; another tenant's records never appear."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import ARRAY, String, bindparam

from engage.consents.repository import Terms
from engage.consents.service import covering, held
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.core.sql import FactQuery
from engage.tenancy.models import Tenant

from .conftest import Record

# The fact alone, as the engine gathers it with its others: one statement, the numbers as one array parameter.
HELD = FactQuery(held=held(bindparam("phones", type_=ARRAY(String))))


async def gather(runtime: Runtime, tenant: Tenant, phones: list[str]) -> dict[str, list[Terms]]:
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        found: dict[str, list[Terms]] = (await HELD.gather(session, phones=phones))["held"]
    return found


class TestHeld:
    async def test_every_record_comes_under_its_number(self, runtime: Runtime, tenant: Tenant, record: Record) -> None:
        oldest = await record(phone="+971509876543", granted_at="2026-06-01T00:00:00Z")
        newest = await record(phone="+971509876543", granted_at="2026-06-10T00:00:00Z", scope="service")
        other = await record(phone="+971501234567")
        await record(phone="+971551112222")

        found = await gather(runtime, tenant, ["+971509876543", "+971501234567", "+971509876543"])

        assert {phone: sorted(str(t.id) for t in terms) for phone, terms in found.items()} == {
            "+971509876543": sorted([oldest["id"], newest["id"]]),
            "+971501234567": [other["id"]],
        }
        [service] = [t for t in found["+971509876543"] if str(t.id) == newest["id"]]
        assert (service.scope, service.granted_at, service.expires_at, service.withdrawn_at) == (
            "service",
            datetime(2026, 6, 10, tzinfo=UTC),
            None,
            None,
        )

    async def test_a_number_without_records_is_absent(self, runtime: Runtime, tenant: Tenant, record: Record) -> None:
        await record(phone="+971509876543")

        assert await gather(runtime, tenant, ["+971501234567"]) == {}
        assert await gather(runtime, tenant, []) == {}

    async def test_another_tenants_records_are_not_returned(
        self,
        runtime: Runtime,
        tenant: Tenant,
        other_tenant: Tenant,
        other_headers: dict[str, str],
        record: Record,
    ) -> None:
        await record(as_=other_headers, phone="+971509876543")

        assert await gather(runtime, tenant, ["+971509876543"]) == {}


class TestCoveringOverTheApi:
    async def test_records_made_through_the_api_expire_and_withdraw_as_covering_reads_them(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        headers: dict[str, str],
        record: Record,
        clock: ManualClock,
    ) -> None:
        lasting = await record(phone="0509876543", scope="service", granted_at="2026-06-01T00:00:00Z")
        expiring = await record(phone="0509876543", expires_at="2026-06-12T12:00:00Z")
        clock.advance(3 * 3600)
        everything = await record(phone="0509876543", scope="all")
        response = await client.post(f"/v1/consents/{everything['id']}/withdraw", headers=headers)
        assert response.status_code == 200, response.text

        records = (await gather(runtime, tenant, ["+971509876543"]))["+971509876543"]

        def covered_by(scope: str, hour: int, minute: int = 0) -> str | None:
            consent = covering(records, scope, datetime(2026, 6, 12, hour, minute, tzinfo=UTC))
            return str(consent.id) if consent is not None else None

        assert covered_by("marketing", 10, 30) == expiring["id"]
        assert covered_by("service", 10, 30) == lasting["id"]
        assert covered_by("marketing", 12) is None
        assert covered_by("service", 12) == lasting["id"]
        assert covered_by("marketing", 13) is None
        assert covered_by("service", 13) is None
