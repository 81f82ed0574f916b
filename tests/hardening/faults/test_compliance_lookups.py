"""Compliance look-ups failing while a campaign runs: the national DNC registry's table cannot be read (locked by
another transaction until the look-up outlasts the compliance budget, or its read permission withdrawn from the
app's role), under a real worker dialling through the switch simulator.

The rule (DESIGN.md §3, "Any error or time-out is `allowed: false`"): every attempt is denied and audited with the
reason, no number is dialled, no attempt is spent; once the registry answers again each contact is dialled exactly
once. tests/compliance/test_engine.py proves default deny on the engine alone (a failing or slow fact source);
this is the same rule through the running dialer, with the fault in PostgreSQL rather than in Python.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import select

from engage.compliance.engine import parse_audit_ref
from engage.compliance.models import AuditEntry
from engage.core.db import APP_ROLE, tenant_transaction
from engage.core.runtime import Runtime

from ...dialer.conftest import Dialer, Floor, Reader, ended, eventually, make_floor
from ...factories import Factory
from .conftest import SwitchWatch

# After a compliance error the dialer looks at the contact again a minute later (dialer.service).
RETRY_AFTER_ERROR_SECONDS = 61


@asynccontextmanager
async def registry_locked(owner: asyncpg.Connection) -> AsyncIterator[None]:
    """Another transaction holds the registry table exclusively: the look-up waits for the lock until
    PostgreSQL's statement timeout (80 % of the compliance budget) cancels it."""
    transaction = owner.transaction()
    await transaction.start()
    await owner.execute("LOCK TABLE registry_numbers IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()


@asynccontextmanager
async def registry_unreadable(owner: asyncpg.Connection) -> AsyncIterator[None]:
    """The app's role may no longer read the registry (its only grant on the table): the look-up fails at once."""
    await owner.execute(f"REVOKE SELECT ON registry_numbers FROM {APP_ROLE}")  # noqa: S608 - a constant
    try:
        yield
    finally:
        await owner.execute(f"GRANT SELECT ON registry_numbers TO {APP_ROLE}")


Fault = Callable[[asyncpg.Connection], AbstractAsyncContextManager[None]]
FAULTS: dict[str, tuple[Fault, str]] = {
    # (the fault, the error its denial names)
    "registry-lookup-times-out": (registry_locked, "QueryCanceledError"),
    "registry-lookup-fails": (registry_unreadable, "InsufficientPrivilegeError"),
}


async def dialer_decisions(runtime: Runtime, floor: Floor) -> list[AuditEntry]:
    async with tenant_transaction(runtime.sessions, floor.tenant.id) as session:
        query = (
            select(AuditEntry)
            .where(AuditEntry.campaign_id == floor.campaign_id, AuditEntry.channel == "dialer")
            .order_by(AuditEntry.seq)
        )
        return list((await session.scalars(query)).all())


def decided_each(floor: Floor, times: int) -> Callable[[list[AuditEntry]], bool]:
    def check(entries: list[AuditEntry]) -> bool:
        return all(sum(entry.phone == phone for entry in entries) >= times for phone in floor.phones)

    return check


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_failing_lookups_deny_and_audit_every_attempt_and_nothing_is_dialled_until_they_answer(
    fault: str,
    dialer: Dialer,
    switch_watch: SwitchWatch,
    factory: Factory,
    runtime: Runtime,
    reader: Reader,
    owner: asyncpg.Connection,
) -> None:
    inject, error_name = FAULTS[fault]
    floor = await make_floor(factory, runtime, contacts_count=3, agents_count=3, max_attempts=2, wrap_up_seconds=1)

    async with inject(owner):
        await dialer.add_worker()
        await eventually(lambda: dialer_decisions(runtime, floor), decided_each(floor, 1), "the first round")
        dialer.clock.advance(RETRY_AFTER_ERROR_SECONDS)
        await eventually(lambda: dialer_decisions(runtime, floor), decided_each(floor, 2), "the second round")

        during = await dialer_decisions(runtime, floor)
        assert all(not entry.allowed and entry.blocking_rule == "compliance_error" for entry in during)
        assert all(error_name in (entry.blocking_reason or "") for entry in during)
        assert await reader.calls(floor) == []
        assert switch_watch.originated(floor.phones) == []
        contacts = await reader.contacts(floor)
        assert {(c.status, c.attempts) for c in contacts} == {("pending", 0)}
        # One audit row per decision: each blocked attempt's event names its own row, and no row is unnamed.
        blocked = await reader.events(floor, "call.compliance_blocked")
        assert sorted(parse_audit_ref(e.payload["audit_ref"]) for e in blocked) == [e.seq for e in during]

    dialer.clock.advance(RETRY_AFTER_ERROR_SECONDS)
    calls = await eventually(
        lambda: reader.calls(floor), lambda found: len(found) == 3 and ended(found), "one call per contact"
    )

    assert sorted(call.contact_phone for call in calls) == sorted(floor.phones)
    assert sorted(switch_watch.originated(floor.phones)) == sorted(floor.phones)
    assert {c.attempts for c in await reader.contacts(floor)} == {1}
    allowed = [entry for entry in await dialer_decisions(runtime, floor) if entry.allowed]
    assert sorted(parse_audit_ref(call.compliance_audit_ref or "") for call in calls) == [e.seq for e in allowed]
