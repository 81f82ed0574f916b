"""A tenant's country and zone: read once per process (nothing changes them after creation), and never one
tenant's for another."""

from __future__ import annotations

import asyncio
import uuid

from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.runtime import Runtime
from engage.core.sql import driver_of
from engage.tenancy import service as tenancy

from ..statements import statements_sent


async def _create(runtime: Runtime, *, country: str, timezone: str) -> uuid.UUID:
    async with unscoped_transaction(runtime.sessions) as session:
        tenant = await tenancy.create(
            session, name=f"{country} tenant", timezone=timezone, country=country, rate_limit_per_minute=100,
            clock=runtime.clock,
        )  # fmt: skip
    return tenant.id


class TestPlace:
    async def test_each_tenant_reads_its_own_country_and_zone(self, runtime: Runtime) -> None:
        saudi = await _create(runtime, country="SA", timezone="Asia/Riyadh")
        kuwaiti = await _create(runtime, country="KW", timezone="Asia/Kuwait")

        for _ in range(2):  # the first read fills the cache, the second is served from it
            async with tenant_transaction(runtime.sessions, saudi) as session:
                assert (await tenancy.country(session, saudi), await tenancy.timezone(session, saudi)) == (
                    "SA",
                    "Asia/Riyadh",
                )
            async with tenant_transaction(runtime.sessions, kuwaiti) as session:
                assert (await tenancy.country(session, kuwaiti), await tenancy.timezone(session, kuwaiti)) == (
                    "KW",
                    "Asia/Kuwait",
                )

    async def test_a_second_read_sends_no_statement(self, runtime: Runtime) -> None:
        tenant_id = await _create(runtime, country="QA", timezone="Asia/Qatar")
        async with tenant_transaction(runtime.sessions, tenant_id) as session:
            with statements_sent(await driver_of(session)) as sent:
                assert await tenancy.country(session, tenant_id) == "QA"
                await asyncio.sleep(0)  # asyncpg calls its query loggers soon, not at once
                read_first = len(sent)
                assert await tenancy.timezone(session, tenant_id) == "Asia/Qatar"
                assert await tenancy.country(session, tenant_id) == "QA"
                await asyncio.sleep(0)

        assert read_first >= 1
        assert len(sent) == read_first
