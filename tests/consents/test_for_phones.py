"""`repository.for_phones`, the compliance engine's read: every record of the tenant for the numbers asked
about, newest granted first per number, in one statement; another tenant's records never appear."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from engage.consents import repository
from engage.consents.service import covering
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant

from .conftest import Record


@pytest.fixture
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements sent to the database while the test runs."""
    sent: list[str] = []

    def capture(*args: Any) -> None:
        sent.append(args[2])

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", capture)
    yield sent
    event.remove(runtime.engine.sync_engine, "before_cursor_execute", capture)


class TestForPhones:
    async def test_records_come_per_number_newest_granted_first_in_one_statement(
        self, runtime: Runtime, tenant: Tenant, record: Record, statements: list[str]
    ) -> None:
        oldest = await record(phone="+971509876543", granted_at="2026-06-01T00:00:00Z")
        newest = await record(phone="+971509876543", granted_at="2026-06-10T00:00:00Z")
        middle = await record(phone="+971509876543", granted_at="2026-06-05T00:00:00Z")
        other = await record(phone="+971501234567")
        await record(phone="+971551112222")
        statements.clear()

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            found = await repository.for_phones(session, ["+971509876543", "+971501234567", "+971509876543"])

        assert {phone: [str(c.id) for c in records] for phone, records in found.items()} == {
            "+971509876543": [newest["id"], middle["id"], oldest["id"]],
            "+971501234567": [other["id"]],
        }
        assert len([sql for sql in statements if "FROM consents" in sql]) == 1
        assert "ANY" in next(sql for sql in statements if "FROM consents" in sql)

    async def test_a_number_without_records_maps_to_an_empty_list(
        self, runtime: Runtime, tenant: Tenant, record: Record
    ) -> None:
        await record(phone="+971509876543")

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            found = await repository.for_phones(session, ["+971501234567"])

        assert found == {"+971501234567": []}

    async def test_no_numbers_is_no_query(self, runtime: Runtime, tenant: Tenant, statements: list[str]) -> None:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            statements.clear()
            found = await repository.for_phones(session, [])

        assert found == {}
        assert not [sql for sql in statements if "consents" in sql]

    async def test_another_tenants_records_are_not_returned(
        self,
        runtime: Runtime,
        tenant: Tenant,
        other_tenant: Tenant,
        other_headers: dict[str, str],
        record: Record,
    ) -> None:
        await record(as_=other_headers, phone="+971509876543")

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            found = await repository.for_phones(session, ["+971509876543"])

        assert found == {"+971509876543": []}


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

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            records = (await repository.for_phones(session, ["+971509876543"]))["+971509876543"]

        def covered_by(scope: str, hour: int, minute: int = 0) -> str | None:
            consent = covering(records, scope, datetime(2026, 6, 12, hour, minute, tzinfo=UTC))
            return str(consent.id) if consent is not None else None

        assert covered_by("marketing", 10, 30) == expiring["id"]
        assert covered_by("service", 10, 30) == lasting["id"]
        assert covered_by("marketing", 12) is None
        assert covered_by("service", 12) == lasting["id"]
        assert covered_by("marketing", 13) is None
        assert covered_by("service", 13) is None
