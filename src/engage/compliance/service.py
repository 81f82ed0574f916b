"""Compliance use cases behind the API: one check, the rule sets in effect, one audit record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.clock import Clock
from engage.core.ids import new_id
from engage.core.phones import e164_of, parse_valid, to_e164
from engage.core.principal import Principal
from engage.core.sql import Reads
from engage.tenancy import service as tenancy_service

from . import repository
from .checks import Subject, next_permitted
from .engine import AUDIT_PREFIX, Asker, Channel, CheckRequest, Decision, Engine, Unresolvable, parse_audit_ref, resolve
from .errors import AuditNotFound, InvalidPhone
from .models import AuditEntry, DialAttempt
from .repository import Denials as Denials
from .rules import RuleBook as RuleBook
from .rules import RuleSet, Window
from .schemas import ComplianceCheck


async def check(db: Reads, principal: Principal, body: ComplianceCheck, *, engine: Engine) -> Decision:
    """Validate what a client can get wrong (the number and the caller ID as 400s, the campaign as the campaign's
    404, found with the facts rather than by a query of its own); then one audited decision."""
    country = await tenancy_service.country(db, principal.tenant_id)
    number = parse_valid(body.phone, country)
    if number is None:
        raise InvalidPhone(
            f"{body.phone!r} is not a valid phone number (E.164, or local format in {country}).",
            extra={"errors": [{"field": "phone", "message": "not a valid phone number"}]},
        )
    cli = None
    if body.cli is not None:
        cli = to_e164(body.cli, country)
        if cli is None:
            raise InvalidPhone(
                f"{body.cli!r} is not a valid caller ID.",
                extra={"errors": [{"field": "cli", "message": "not a valid phone number"}]},
            )
    request = CheckRequest(
        phone=e164_of(number), campaign_id=body.campaign_id, jurisdiction=body.jurisdiction, cli=cli, number=number
    )
    [decision] = await engine.decide(
        db, principal.tenant_id, [request], Asker(Channel.api, principal.user_id), refuse_unknown_campaigns=True
    )
    return decision


async def record_attempt(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    phone: str,
    attempted_at: datetime,
    answered: bool,
    disposition: str | None = None,
    campaign_id: uuid.UUID | None = None,
) -> None:
    """What the frequency cap counts: the dialer records each attempt to a number when it ends."""
    await repository.add_attempt(
        session,
        DialAttempt(
            id=new_id(),
            tenant_id=tenant_id,
            phone=phone,
            campaign_id=campaign_id,
            attempted_at=attempted_at,
            answered=answered,
            disposition=disposition,
        ),
    )


async def denials_by_rule(
    session: AsyncSession, campaign_id: uuid.UUID, channel: Channel, since: datetime
) -> list[Denials]:
    """How often, and for which numbers, the compliance gate refused a campaign's calls on `channel` since
    `since`, by blocking rule (campaign diagnostics)."""
    return await repository.denials_by_rule(session, campaign_id, channel.value, since)


async def audit_record(session: AsyncSession, audit_ref: str) -> dict[str, Any]:
    seq = parse_audit_ref(audit_ref)
    entry: AuditEntry | None = await repository.get_audit(session, seq) if seq is not None else None
    if entry is None:
        raise AuditNotFound(f"No compliance decision {audit_ref} in your organisation.")
    return {
        "audit_ref": f"{AUDIT_PREFIX}{entry.seq}",
        "decided_at": entry.decided_at,
        "channel": entry.channel,
        "actor_user_id": entry.actor_user_id,
        "campaign_id": entry.campaign_id,
        "phone": entry.phone,
        "jurisdiction": entry.jurisdiction,
        "rule_version": entry.rule_version,
        "allowed": entry.allowed,
        "blocking_rule": entry.blocking_rule,
        "blocking_reason": entry.blocking_reason,
        "checks": entry.checks,
        "request": entry.request,
        "hash": entry.hash,
        "prev_hash": entry.prev_hash,
    }


def _windows(windows: list[Window]) -> list[dict[str, str]]:
    return [{"start": f"{w.start:%H:%M}", "end": f"{w.end:%H:%M}"} for w in windows]


def describe(rules: RuleSet) -> dict[str, Any]:
    """What the engine enforces for one jurisdiction, for operators to read."""
    hours = rules.calling_hours
    return {
        "jurisdiction": rules.jurisdiction,
        "rule_version": rules.rule_version,
        "effective_from": rules.effective_from,
        "confirmed": rules.confirmed,
        "source": rules.source,
        "timezone": rules.timezone,
        "calling_hours": {
            "windows": _windows(hours.windows),
            "days": hours.days,
            "weekend": [day for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if day not in hours.days],
            "blocking_reason": hours.blocking_reason,
            "source": hours.source,
        },
        "ramadan": (
            {"windows": _windows(rules.ramadan.windows), "source": rules.ramadan.source} if rules.ramadan else None
        ),
        "holidays": {
            "source": rules.holidays.source,
            "country": rules.holiday_country if rules.jurisdiction != "*" else None,
            "calls_allowed": rules.holidays.calls_allowed,
        },
        "registry": rules.registry.model_dump(),
        "consent": rules.consent.model_dump(),
        "frequency_cap": rules.frequency.model_dump() if rules.frequency else None,
    }


def rules_in_effect(book: RuleBook, clock: Clock) -> list[dict[str, Any]]:
    today: date = clock.now().date()
    return [describe(rules) for rules in book.current(today)]


@dataclass(frozen=True, slots=True)
class Opening:
    """Where a number is called and when its calling hours next open (None: not within the horizon, or never)."""

    jurisdiction: str | None
    timezone: str | None
    opens_at: datetime | None


def next_opening(phone: str, window: tuple[time, time] | None, book: RuleBook, now: datetime) -> Opening:
    """The number's jurisdiction and callee zone as every decision resolves them, and when its calling hours
    (the campaign's `window` included) next open; an unresolvable number never opens (the engine denies it)."""
    try:
        jurisdiction, zone, rules = resolve(CheckRequest(phone=phone), book, now)
    except (Unresolvable, LookupError):
        return Opening(None, None, None)
    campaign_window = Window(start=window[0], end=window[1]) if window is not None else None
    subject = Subject(phone=phone, jurisdiction=jurisdiction, zone=zone, campaign_window=campaign_window)
    return Opening(jurisdiction, zone.key, next_permitted(rules, subject, now))
