"""Tenant DNC list use cases. Flushes, never commits: the caller's transaction decides.

Invariants: a number (E.164) is listed at most once per tenant; listing a number marks its pending and
dialing contacts `dnc` in every campaign of the tenant atomically with the insert (a database trigger, so
this domain never calls contacts); every number this service lists gets exactly one `dnc.added` outbox
event, and every entry it removes one `dnc.removed`, in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.clock import Clock, isoformat_z
from engage.core.errors import ValidationFailed
from engage.core.ids import new_id
from engage.core.outbox import record_event
from engage.core.pagination import PageParams, PageResult
from engage.core.phones import to_e164
from engage.core.principal import Principal
from engage.core.sql import Fact
from engage.tenancy import service as tenancy_service

from . import repository
from .errors import DncEntryNotFound, TooManyPhones
from .repository import DncListing, ListedNumber
from .schemas import DncAdd, DncSource

log = structlog.get_logger("engage.dnc")

# Issue 3 point 7: up to 5,000 numbers per request. Bigger lists go in several requests (or a later import).
MAX_PHONES_PER_REQUEST = 5_000

EVENT_ADDED = "dnc.added"
EVENT_REMOVED = "dnc.removed"

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


@dataclass(frozen=True, slots=True)
class AddResult:
    """`added`: the numbers this call listed; `duplicates_skipped`: numbers given more than once or already
    on the list (neither changes anything)."""

    added: Sequence[ListedNumber]
    duplicates_skipped: int


@dataclass(frozen=True, slots=True)
class RequestResult:
    added: int
    duplicates_skipped: int
    invalid_phones: int


async def add_numbers(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    phones_e164: Sequence[str],
    *,
    source: DncSource,
    reason: str | None,
    added_by: uuid.UUID | None,
    clock: Clock,
) -> AddResult:
    """List numbers already in E.164 (callers normalise with `core.phones.to_e164`); the entry point for
    every domain that adds to the list (POST /v1/dnc, an agent's disposition, an import)."""
    malformed = [phone for phone in phones_e164 if not _E164.match(phone)]
    if malformed:
        # A caller bug, not client input: refusing beats storing a number nothing will ever match.
        raise ValueError(f"{len(malformed)} number(s) are not E.164")
    unique = list(dict.fromkeys(phones_e164))
    added_at = clock.now()
    added = await repository.insert_new(
        session,
        tenant_id,
        [(new_id(), phone) for phone in unique],
        source=source.value,
        reason=reason,
        added_by=added_by,
        added_at=added_at,
    )
    for entry in added:
        # correlation_id is the entry id: what a receiver needs to tie this event to the entry (and to a
        # later removal of it), whichever request or call caused it.
        await record_event(
            session,
            tenant_id,
            EVENT_ADDED,
            {
                "dnc_id": str(entry.id),
                "phone": entry.phone,
                "source": source.value,
                "reason": reason,
                "added_by": str(added_by) if added_by is not None else None,
                "added_at": isoformat_z(added_at),
            },
            entry.id,
            clock=clock,
        )
    skipped = len(phones_e164) - len(added)
    log.info(
        "dnc.numbers_added",
        tenant_id=str(tenant_id),
        source=source.value,
        added=len(added),
        duplicates_skipped=skipped,
    )
    return AddResult(added=added, duplicates_skipped=skipped)


async def add_from_request(session: AsyncSession, principal: Principal, data: DncAdd, *, clock: Clock) -> RequestResult:
    """POST /v1/dnc: numbers as typed, read in the tenant's country; invalid ones are counted, not stored."""
    if len(data.phones) > MAX_PHONES_PER_REQUEST:
        raise TooManyPhones(
            f"A request may list up to {MAX_PHONES_PER_REQUEST} numbers; this one has {len(data.phones)}. "
            "Send them in several requests.",
            extra={"max_phones": MAX_PHONES_PER_REQUEST, "received": len(data.phones)},
        )
    country = await tenancy_service.country(session, principal.tenant_id)
    parsed = [to_e164(raw, country) for raw in data.phones]
    valid = [phone for phone in parsed if phone is not None]
    result = await add_numbers(
        session,
        principal.tenant_id,
        valid,
        source=DncSource.manual,
        reason=data.reason,
        added_by=principal.user_id,
        clock=clock,
    )
    return RequestResult(
        added=len(result.added),
        duplicates_skipped=result.duplicates_skipped,
        invalid_phones=len(parsed) - len(valid),
    )


async def list_entries(
    session: AsyncSession, tenant_id: uuid.UUID, params: PageParams, *, phone: str | None = None
) -> PageResult[DncListing]:
    normalised = None
    if phone is not None:
        normalised = to_e164(phone, await tenancy_service.country(session, tenant_id))
        if normalised is None:
            raise ValidationFailed(
                "phone: not a valid phone number",
                extra={"errors": [{"field": "phone", "message": "not a valid phone number"}]},
            )
    return await repository.list_entries(session, params, phone=normalised)


async def remove(session: AsyncSession, entry_id: uuid.UUID, *, removed_by: uuid.UUID | None, clock: Clock) -> None:
    # Un-listing does not re-queue anyone: contacts already marked `dnc` stay `dnc`. Whether to call them again
    # is a decision about those contacts (their campaign's own upload or edit), not a side effect of this one.
    deleted = await repository.delete_entry(session, entry_id)
    if deleted is None:
        raise DncEntryNotFound(f"No DNC entry {entry_id} in your organisation.")
    tenant_id, phone, source = deleted
    # correlation_id is the entry id, as in its `dnc.added`: a receiver pairs the two.
    await record_event(
        session,
        tenant_id,
        EVENT_REMOVED,
        {
            "dnc_id": str(entry_id),
            "phone": phone,
            "source": source,
            "removed_by": str(removed_by) if removed_by is not None else None,
            "removed_at": isoformat_z(clock.now()),
        },
        correlation_id=entry_id,
        clock=clock,
    )


def listed(phones: ColumnElement[list[str]]) -> Fact[set[str]]:
    """Which of the E.164 numbers in the array `phones` are on the tenant's list: the compliance `dnc_tenant`
    check's fact, for the engine to gather with the others in one statement."""
    return repository.listed(phones)
