"""Consent use cases: record, withdraw, list; and `covering`, the rule the compliance `consent` check applies.
Flushes, never commits: the caller's transaction decides.

Invariants: a record's phone is E.164; `expires_at` is after `granted_at` (also a CHECK) and `withdrawn_at` is
not before it; a record is withdrawn at most once; every record and every withdrawal this service makes gets
exactly one outbox event (`consent.recorded`, `consent.withdrawn`) in the same transaction.

Withdrawal semantics (what `covering` and the `active` list filter apply): a withdrawal at W ends every grant
of that scope granted at or before W, not only the record it was made on, since the person has said "stop";
a grant made after W counts again. A withdrawal of an `all` record ends every scope; a grant of `all` covers
every scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

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
from .errors import ConsentAlreadyWithdrawn, ConsentNotFound
from .models import Consent
from .repository import Terms
from .schemas import ConsentCreate, ConsentScope, ConsentWithdraw

log = structlog.get_logger("engage.consents")

EVENT_RECORDED = "consent.recorded"
EVENT_WITHDRAWN = "consent.withdrawn"

# How far ahead of our clock a client may date a grant or a withdrawal: client clocks drift by seconds to
# minutes, but a consent dated later than that is one not yet given.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def _invalid(field: str, message: str) -> ValidationFailed:
    """The 400 a bad field gets, shaped like the request-validation problem (`errors` names the field)."""
    return ValidationFailed(f"{field}: {message}", extra={"errors": [{"field": field, "message": message}]})


async def _normalised_phone(session: AsyncSession, tenant_id: uuid.UUID, raw: str) -> str:
    phone = to_e164(raw, await tenancy_service.country(session, tenant_id))
    if phone is None:
        raise _invalid("phone", "not a valid phone number")
    return phone


def _not_ahead(field: str, instant: datetime, now: datetime) -> datetime:
    if instant > now + MAX_CLOCK_SKEW:
        raise _invalid(
            field, f"must not be more than {int(MAX_CLOCK_SKEW.total_seconds()) // 60} minutes in the future"
        )
    return instant.astimezone(UTC)


def _optional_z(instant: datetime | None) -> str | None:
    return isoformat_z(instant) if instant is not None else None


async def record(session: AsyncSession, principal: Principal, data: ConsentCreate, *, clock: Clock) -> Consent:
    """POST /v1/consents: one grant, as typed, for the caller's tenant."""
    now = clock.now()
    phone = await _normalised_phone(session, principal.tenant_id, data.phone)
    granted_at = _not_ahead("granted_at", data.granted_at or now, now)
    expires_at = data.expires_at.astimezone(UTC) if data.expires_at is not None else None
    if expires_at is not None and expires_at <= granted_at:
        raise _invalid("expires_at", "must be after granted_at")
    consent = await repository.add(
        session,
        Consent(
            id=new_id(),
            tenant_id=principal.tenant_id,
            phone=phone,
            scope=data.scope.value,
            source=data.source,
            granted_at=granted_at,
            expires_at=expires_at,
            withdrawn_at=None,
            recorded_by=principal.user_id,
            created_at=now,
        ),
    )
    # The full number, as `dnc.added` carries it: a receiver must be able to act on the number itself.
    await record_event(
        session,
        principal.tenant_id,
        EVENT_RECORDED,
        {
            "consent_id": str(consent.id),
            "phone": consent.phone,
            "scope": consent.scope,
            "source": consent.source,
            "granted_at": isoformat_z(granted_at),
            "expires_at": _optional_z(expires_at),
            "recorded_by": str(principal.user_id),
        },
        consent.id,
        clock=clock,
    )
    log.info("consent.recorded", tenant_id=str(principal.tenant_id), consent_id=str(consent.id), scope=consent.scope)
    return consent


async def withdraw(
    session: AsyncSession,
    principal: Principal,
    consent_id: uuid.UUID,
    data: ConsentWithdraw | None,
    *,
    clock: Clock,
) -> Consent:
    """POST /v1/consents/{id}/withdraw. The record is locked first, so of two concurrent withdrawals one wins
    and the other is the 409."""
    consent = await repository.get(session, consent_id, for_update=True)
    if consent is None:
        raise ConsentNotFound(f"No consent {consent_id} in your organisation.")
    if consent.withdrawn_at is not None:
        raise ConsentAlreadyWithdrawn(
            f"Consent {consent_id} was already withdrawn at {isoformat_z(consent.withdrawn_at)}.",
            extra={"withdrawn_at": isoformat_z(consent.withdrawn_at)},
        )
    now = clock.now()
    requested = data.withdrawn_at if data is not None else None
    withdrawn_at = _not_ahead("withdrawn_at", requested or now, now)
    if withdrawn_at < consent.granted_at:
        raise _invalid("withdrawn_at", f"must not be before granted_at ({isoformat_z(consent.granted_at)})")
    consent.withdrawn_at = withdrawn_at
    await repository.flush(session)
    await record_event(
        session,
        principal.tenant_id,
        EVENT_WITHDRAWN,
        {
            "consent_id": str(consent.id),
            "phone": consent.phone,
            "scope": consent.scope,
            "withdrawn_at": isoformat_z(withdrawn_at),
            "withdrawn_by": str(principal.user_id),
        },
        consent.id,
        clock=clock,
    )
    log.info("consent.withdrawn", tenant_id=str(principal.tenant_id), consent_id=str(consent.id), scope=consent.scope)
    return consent


async def list_consents(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    *,
    phone: str | None = None,
    active: bool = False,
    clock: Clock,
) -> PageResult[Consent]:
    """GET /v1/consents. `active`: only records in effect now (granted, not expired, not withdrawn, not ended
    by a later withdrawal of the same scope or of `all`)."""
    normalised = await _normalised_phone(session, tenant_id, phone) if phone is not None else None
    return await repository.list_consents(session, params, phone=normalised, active_at=clock.now() if active else None)


def _overlaps(record_scope: str, scope: ConsentScope) -> bool:
    """Whether a withdrawal made on a record of `record_scope` bears on consent for `scope`."""
    return record_scope in (scope.value, ConsentScope.all.value) or scope is ConsentScope.all


class ConsentTerms(Protocol):
    """What `covering` reads of a record (a `Consent`, or the `Terms` the compliance engine gathers)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def scope(self) -> str: ...
    @property
    def granted_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def withdrawn_at(self) -> datetime | None: ...


Record = TypeVar("Record", bound=ConsentTerms)


def covering(records: Sequence[Record], scope: str, at: datetime) -> Record | None:
    """The newest record that lets the tenant call about `scope` at `at`, or None.

    A record covers when its scope is `scope` or `all`, it was granted at or before `at`, it has not expired
    (`expires_at` null or after `at`: consent ends at the instant it expires) and no withdrawal at or before
    `at` of the same scope or of `all` (on this record or another) came at or after its grant. A grant and a
    withdrawal at the same instant: the withdrawal wins (refusing a call is the safe reading).

    `records` are one number's, in any order (e.g. what `held` gathers); `scope` a `ConsentScope` value.
    """
    wanted = ConsentScope(scope)
    withdrawals = [
        r.withdrawn_at
        for r in records
        if r.withdrawn_at is not None and r.withdrawn_at <= at and _overlaps(r.scope, wanted)
    ]
    last_withdrawal = max(withdrawals, default=None)
    candidates = [
        r
        for r in records
        if r.scope in (wanted.value, ConsentScope.all.value)
        and r.granted_at <= at
        and (r.expires_at is None or r.expires_at > at)
        and (last_withdrawal is None or r.granted_at > last_withdrawal)
    ]
    return max(candidates, key=lambda r: (r.granted_at, r.id), default=None)


def held(phones: ColumnElement[list[str]]) -> Fact[dict[str, list[Terms]]]:
    """The terms of the tenant's consent records for the E.164 numbers in the array `phones`, by number: what
    the compliance `consent` check hands to `covering`, gathered with the engine's other facts in one
    statement."""
    return repository.held(phones)
