"""`service.add_numbers`, the entry point other domains call (an agent's disposition, an import): numbers
already in E.164, any source, one event per number it lists."""

from __future__ import annotations

import pytest

from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.dnc import service
from engage.dnc.schemas import DncSource
from engage.tenancy.models import Tenant
from engage.users.models import User

from .conftest import Db


class _Abort(Exception):
    """Raised inside a transaction to roll it back."""


class TestAddNumbers:
    async def test_lists_new_numbers_once_with_the_given_source_and_counts_the_rest_as_duplicates(
        self, runtime: Runtime, tenant: Tenant, admin: User, db: Db, clock: ManualClock
    ) -> None:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await service.add_numbers(
                session, tenant.id, ["+971501234567"], source=DncSource.manual, reason=None, added_by=None, clock=clock
            )
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            result = await service.add_numbers(
                session,
                tenant.id,
                ["+971509876543", "+971509876543", "+971501234567"],
                source=DncSource.agent_disposition,
                reason="Customer requested no contact",
                added_by=admin.id,
                clock=clock,
            )

        assert [number.phone for number in result.added] == ["+971509876543"]
        assert result.duplicates_skipped == 2
        entry = next(e for e in await db.entries(tenant.id) if e.phone == "+971509876543")
        assert (entry.id, entry.source, entry.added_by) == (result.added[0].id, "agent_disposition", admin.id)
        events = await db.events(tenant.id)
        assert [event.payload["phone"] for event in events] == ["+971501234567", "+971509876543"]
        second_event = events[1]
        assert second_event.payload["source"] == "agent_disposition"
        assert second_event.correlation_id == entry.id

    async def test_nothing_to_add_writes_nothing(
        self, runtime: Runtime, tenant: Tenant, db: Db, clock: ManualClock
    ) -> None:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            result = await service.add_numbers(
                session, tenant.id, [], source=DncSource.manual, reason=None, added_by=None, clock=clock
            )

        assert (list(result.added), result.duplicates_skipped) == ([], 0)
        assert await db.count_entries(tenant.id) == 0

    async def test_a_number_not_in_e164_is_a_programming_error_and_nothing_is_stored(
        self, runtime: Runtime, tenant: Tenant, db: Db, clock: ManualClock
    ) -> None:
        async def add_a_local_number() -> None:
            async with tenant_transaction(runtime.sessions, tenant.id) as session:
                await service.add_numbers(
                    session,
                    tenant.id,
                    ["+971509876543", "0501234567"],
                    source=DncSource.manual,
                    reason=None,
                    added_by=None,
                    clock=clock,
                )

        with pytest.raises(ValueError, match=r"E\.164"):
            await add_a_local_number()

        assert await db.count_entries(tenant.id) == 0

    async def test_an_event_is_rolled_back_with_its_entry(
        self, runtime: Runtime, tenant: Tenant, db: Db, clock: ManualClock
    ) -> None:
        async def add_then_fail() -> None:
            async with tenant_transaction(runtime.sessions, tenant.id) as session:
                await service.add_numbers(
                    session,
                    tenant.id,
                    ["+971509876543"],
                    source=DncSource.manual,
                    reason=None,
                    added_by=None,
                    clock=clock,
                )
                raise _Abort

        with pytest.raises(_Abort):
            await add_then_fail()

        assert await db.count_entries(tenant.id) == 0
        assert await db.events(tenant.id) == []
