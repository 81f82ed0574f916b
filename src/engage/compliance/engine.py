"""The one entry point: `decide(db, tenant_id, requests, asker, ...)` for one number or a dialer's batch.

1. Each request is resolved: E.164 number, jurisdiction (given, else the number's country), the callee's
   zone (the first `phonenumbers.timezone` gives, else the rule set's main zone), the rule set in effect.
2. The facts of the whole batch are gathered in one statement, each domain contributing its subquery
   (a `core.sql.Fact`), in a savepoint and under a statement timeout, all within the time budget.
3. Each request is evaluated by the pure checks (`checks.evaluate`); one blocked by `calling_hours` gets the next
   instant it may be called (`next_permitted_at`), for the dialer to reschedule it.
4. Every decision, allowed or not, is appended to the audit log in one multi-row insert, in the caller's
   transaction, and gets its `audit_ref`.

Default deny: an exception or the budget running out while gathering or evaluating denies every request of
the batch with `blocking_rule: "compliance_error"`; a request that cannot be resolved (no rule set, no time
zone, an unknown campaign) is denied the same way, alone. Those denials are audited too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import structlog
from phonenumbers import timezone as phone_timezones
from prometheus_client import Counter
from sqlalchemy import ARRAY, BindParameter, DateTime, String, Uuid, bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from engage.campaigns import service as campaigns
from engage.cli_groups import service as cli_groups
from engage.consents import service as consents
from engage.core.clock import Clock
from engage.core.sql import FactQuery, Reads
from engage.dnc import service as dnc
from engage.registry import service as registry

from . import repository
from .checks import COMPLIANCE_ERROR, CheckName, CheckResult, Facts, Outcome, Subject, Verdict, evaluate
from .rules import RuleBook, RuleSet, Window, shipped

log = structlog.get_logger("engage.compliance")

DECISIONS = Counter(
    "engage_compliance_decisions_total", "Audited compliance decisions, by channel and answer.", ["channel", "allowed"]
)
ERRORS = Counter(
    "engage_compliance_errors_total",
    "Look-ups that failed or overran the budget, so every request in them was denied (default deny).",
    ["reason"],
)

AUDIT_PREFIX = "AUD-"
_UNKNOWN_ZONE = "Etc/Unknown"
_WEEK = timedelta(days=7)


class Channel(StrEnum):
    api = "api"
    originate = "originate"
    dialer = "dialer"


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """`phone` in E.164 (callers normalise what people type first); `cli` the caller ID to present, if known.
    `number`: `phone` already parsed and found valid (`core.phones.parse_valid`), when the caller has it, so the
    engine does not parse it again."""

    phone: str
    campaign_id: uuid.UUID | None = None
    jurisdiction: str | None = None
    cli: str | None = None
    number: phonenumbers.PhoneNumber | None = field(default=None, compare=False, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "campaign_id": str(self.campaign_id) if self.campaign_id else None,
            "jurisdiction": self.jurisdiction,
            "cli": self.cli,
        }


@dataclass(frozen=True, slots=True)
class Asker:
    channel: Channel
    user_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    audit_ref: str
    allowed: bool
    rule_version: str | None
    jurisdiction: str | None
    checks: dict[str, str]
    reasons: dict[str, str]
    blocking_rule: str | None
    blocking_reason: str | None
    decided_at: datetime
    # Blocked by `calling_hours` only: when the contact may next be called, to reschedule it without spending
    # an attempt (None otherwise, and when nothing is permitted within `checks.NEXT_PERMITTED_HORIZON`).
    next_permitted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """A request ready to gather facts for: its subject (without the campaign window yet) and rule set."""

    request: CheckRequest
    subject: Subject
    rules: RuleSet


@dataclass(frozen=True, slots=True)
class Gathered:
    """The facts for one request, and its subject with the campaign's calling window filled in."""

    subject: Subject
    facts: Facts


class FactSource(Protocol):
    async def gather(self, db: Reads, items: Sequence[Resolved], now: datetime) -> list[Gathered | NoCampaign | str]:
        """Per item, in order: what the checks need, that its campaign is not the tenant's, or why else the request
        cannot be decided."""
        ...


@dataclass(frozen=True, slots=True)
class NoCampaign:
    """The request names a campaign the tenant does not have (or another tenant's)."""

    campaign_id: uuid.UUID


class Unresolvable(Exception):
    """A request the engine cannot decide on: denied with this reason."""


def resolve(request: CheckRequest, book: RuleBook, now: datetime) -> tuple[str, ZoneInfo, RuleSet]:
    """The number's jurisdiction (given, else its country), the callee's zone and the rule set in effect, as every
    decision resolves them; `Unresolvable` (or `LookupError`) when the number cannot be placed."""
    number = request.number if request.number is not None else _valid_number(request.phone)
    jurisdiction = (request.jurisdiction or phonenumbers.region_code_for_number(number) or "").upper()
    if len(jurisdiction) != 2:
        raise Unresolvable("no jurisdiction for the number")
    rules = book.for_jurisdiction(jurisdiction, now.date())
    zones = [z for z in phone_timezones.time_zones_for_number(number) if z != _UNKNOWN_ZONE]
    zone_name = zones[0] if zones else rules.timezone
    if zone_name is None:
        raise Unresolvable(f"no time zone known for the number in {jurisdiction}")
    try:
        return jurisdiction, ZoneInfo(zone_name), rules
    except ZoneInfoNotFoundError as exc:
        raise Unresolvable(f"unknown time zone {zone_name}") from exc


def _valid_number(phone: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise Unresolvable(f"{phone!r} is not an E.164 number") from exc
    if not phonenumbers.is_valid_number(number):
        raise Unresolvable("the number is not a valid phone number")
    return number


def _error_verdict(reason: str, rules: RuleSet | None = None) -> Verdict:
    checks: dict[CheckName, CheckResult] = {
        name: CheckResult.skipped("not evaluated") for name in CheckName if name != CheckName.frequency_cap
    }
    return Verdict(
        allowed=False,
        checks=checks,
        blocking_rule=COMPLIANCE_ERROR,
        blocking_reason=f"Compliance could not decide ({reason}); the call is not allowed.",
        rule_version=rules.rule_version if rules else None,
    )


def _array(name: str, item: TypeEngine[Any]) -> BindParameter[Any]:
    return bindparam(name, type_=ARRAY(item))


# Every fact of a batch in one statement: each domain contributes its own subquery (`core.sql.Fact`) over these
# parameters, so a decision costs one round trip for its facts, whatever the batch. Compiled on first use.
_PHONES = _array("phones", String())
_FACTS = FactQuery(
    contexts=campaigns.calling_contexts(_array("campaign_ids", Uuid())),
    on_tenant_dnc=dnc.listed(_PHONES),
    loaded=registry.loaded_jurisdictions(),
    on_registry=registry.listed(_array("registry_jurisdictions", String()), _array("registry_phones", String())),
    consents=consents.held(_PHONES),
    owned=cli_groups.owned_numbers(_array("clis", String())),
    attempts=repository.attempts(
        _array("capped", String()),
        since=bindparam("since", type_=DateTime(timezone=True)),
        final_dispositions=_array("finals", String()),
    ),
)


class DatabaseFacts:
    """The facts from PostgreSQL: one statement for the whole batch, in the tenant's scope."""

    async def gather(self, db: Reads, items: Sequence[Resolved], now: datetime) -> list[Gathered | NoCampaign | str]:
        pairs = sorted({(i.subject.jurisdiction, i.subject.phone) for i in items})
        facts = await _FACTS.gather(
            db,
            phones=sorted({item.subject.phone for item in items}),
            campaign_ids=sorted({item.request.campaign_id for item in items if item.request.campaign_id}),
            registry_jurisdictions=[jurisdiction for jurisdiction, _ in pairs],
            registry_phones=[phone for _, phone in pairs],
            clis=sorted({item.request.cli for item in items if item.request.cli}),
            capped=sorted({item.subject.phone for item in items if item.rules.frequency is not None}),
            since=now - _WEEK,
            finals=sorted(
                {d for item in items if item.rules.frequency for d in item.rules.frequency.final_dispositions}
            ),
        )
        contexts: dict[uuid.UUID, campaigns.CallingContext] = facts["contexts"]
        owned: set[str] = facts["owned"]
        gathered: list[Gathered | NoCampaign | str] = []
        for item in items:
            request, subject = item.request, item.subject
            campaign = contexts.get(request.campaign_id) if request.campaign_id else None
            if request.campaign_id is not None and campaign is None:
                gathered.append(NoCampaign(request.campaign_id))
                continue
            cli_owned: bool | None = None
            if request.cli is not None:
                cli_owned = request.cli in owned
            elif campaign is not None:
                cli_owned = bool(campaign.cli_numbers)
            window = None
            if campaign is not None and campaign.window_start is not None and campaign.window_end is not None:
                window = Window(start=campaign.window_start, end=campaign.window_end)
            gathered.append(
                Gathered(
                    subject=replace(subject, campaign_window=window),
                    facts=Facts(
                        on_tenant_dnc=subject.phone in facts["on_tenant_dnc"],
                        registry_loaded=subject.jurisdiction in facts["loaded"],
                        on_registry=(subject.jurisdiction, subject.phone) in facts["on_registry"],
                        consents=facts["consents"].get(subject.phone, []),
                        cli_owned=cli_owned,
                        attempts=facts["attempts"].get(subject.phone, []),
                    ),
                )
            )
        return gathered


class Engine:
    """Holds what does not change between decisions: the rule book, the fact source, the clock, the budget."""

    def __init__(
        self,
        *,
        clock: Clock,
        budget_seconds: float,
        source: FactSource | None = None,
        book: RuleBook | None = None,
    ) -> None:
        self.clock = clock
        self.budget_seconds = budget_seconds
        self.source: FactSource = source if source is not None else DatabaseFacts()
        self.book = book if book is not None else shipped()

    async def decide(
        self,
        db: Reads,
        tenant_id: uuid.UUID,
        requests: Sequence[CheckRequest],
        asker: Asker,
        *,
        refuse_unknown_campaigns: bool = False,
    ) -> list[Decision]:
        """One audited decision per request, in order, in the caller's transaction (a session, or a direct
        connection). `refuse_unknown_campaigns` (the API): a campaign that is not the tenant's raises the campaign's
        `CampaignNotFound`, before anything is audited, instead of denying the request."""
        now = self.clock.now()
        try:
            async with asyncio.timeout(self.budget_seconds):
                verdicts = await self._verdicts(db, requests, now, refuse_unknown_campaigns)
        except campaigns.CampaignNotFound:
            raise  # the caller's mistake, not the engine's: the caller's 404, no decision
        except Exception as exc:  # noqa: BLE001 - default deny: whatever went wrong, the answer is "no"
            ERRORS.labels("timeout" if isinstance(exc, TimeoutError) else "error").inc()
            log.warning("compliance.error", error=type(exc).__name__, detail=str(exc)[:200], requests=len(requests))
            reason = (
                "time budget exceeded" if isinstance(exc, TimeoutError) else f"internal error: {type(exc).__name__}"
            )
            verdicts = [(None, _error_verdict(reason)) for _ in requests]
        return await self._audit(db, tenant_id, requests, verdicts, asker, now)

    async def _verdicts(
        self, db: Reads, requests: Sequence[CheckRequest], now: datetime, refuse_unknown_campaigns: bool
    ) -> list[tuple[str | None, Verdict]]:
        results: list[tuple[str | None, Verdict] | None] = [None] * len(requests)
        resolved: list[tuple[int, Resolved]] = []
        for index, request in enumerate(requests):
            try:
                jurisdiction, zone, rules = resolve(request, self.book, now)
            except (Unresolvable, LookupError) as exc:
                if refuse_unknown_campaigns and request.campaign_id is not None:
                    # No facts are gathered for it, so the campaign is looked up on its own (a rare path).
                    await campaigns.ensure_exists(db, request.campaign_id)
                results[index] = (request.jurisdiction, _error_verdict(str(exc)))
                continue
            subject = Subject(phone=request.phone, jurisdiction=jurisdiction, zone=zone, cli=request.cli)
            resolved.append((index, Resolved(request, subject, rules)))
        if resolved:
            gathered = await self._gather_uncancelled(db, [item for _, item in resolved], now)
            for (index, item), found in zip(resolved, gathered, strict=True):
                jurisdiction = item.subject.jurisdiction
                if isinstance(found, NoCampaign):
                    if refuse_unknown_campaigns:
                        raise campaigns.not_found(found.campaign_id)
                    found = f"no campaign {found.campaign_id} in this organisation"
                if isinstance(found, str):
                    results[index] = (jurisdiction, _error_verdict(found, item.rules))
                else:
                    results[index] = (jurisdiction, evaluate(item.rules, found.subject, found.facts, now))
        return [result for result in results if result is not None]

    async def _gather_uncancelled(
        self, db: Reads, items: list[Resolved], now: datetime
    ) -> list[Gathered | NoCampaign | str]:
        """`_gather`, not cancelled from here when the budget runs out while it is on the connection. A cancelled
        query makes asyncpg send PostgreSQL a cancel request, which can land after the query ended, on the
        `ROLLBACK TO SAVEPOINT` that follows: the transaction stayed aborted and the audit of the denial failed
        as a 500 (under load, with the API's 250 ms budget). PostgreSQL's own statement timeout, below the
        budget, ends a slow query cleanly; this waits up to one more budget for that, and cancels only work that
        is still running then (work that is not a query: a facts source that hangs)."""
        work = asyncio.ensure_future(self._gather(db, items, now))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            await asyncio.wait({work}, timeout=self.budget_seconds)
            work.cancel()  # a no-op once it has ended
            await asyncio.gather(work, return_exceptions=True)
            raise

    async def _gather(self, db: Reads, items: list[Resolved], now: datetime) -> list[Gathered | NoCampaign | str]:
        # A savepoint: a query that fails or times out must leave the transaction able to write the audit. Its
        # statement timeout is below the budget, so a slow query is stopped by PostgreSQL before asyncio has to
        # cancel it.
        if isinstance(db, AsyncSession):
            await db.flush()  # what the caller's transaction added (a dialer's attempts) is a fact too
        async with repository.bounded(db, int(self.budget_seconds * 800)):
            gathered: list[Gathered | NoCampaign | str] = await self.source.gather(db, items, now)
        return gathered

    async def _audit(
        self,
        db: Reads,
        tenant_id: uuid.UUID,
        requests: Sequence[CheckRequest],
        verdicts: Sequence[tuple[str | None, Verdict]],
        asker: Asker,
        now: datetime,
    ) -> list[Decision]:
        rows = [
            repository.AuditRow(
                campaign_id=request.campaign_id,
                phone=request.phone,
                jurisdiction=jurisdiction,
                rule_version=verdict.rule_version,
                allowed=verdict.allowed,
                blocking_rule=verdict.blocking_rule,
                blocking_reason=verdict.blocking_reason,
                checks={
                    name.value: {"outcome": result.outcome.value, "reason": result.reason}
                    for name, result in verdict.checks.items()
                },
                request=request.as_json(),
            )
            for request, (jurisdiction, verdict) in zip(requests, verdicts, strict=True)
        ]
        seqs = await repository.append_audit(
            db, rows, tenant_id=tenant_id, decided_at=now, channel=asker.channel.value, actor_user_id=asker.user_id
        )
        for row in rows:
            DECISIONS.labels(asker.channel.value, "true" if row.allowed else "false").inc()
        return [
            Decision(
                audit_ref=f"{AUDIT_PREFIX}{seq}",
                allowed=verdict.allowed,
                rule_version=verdict.rule_version,
                jurisdiction=jurisdiction,
                checks={name.value: result.outcome.value for name, result in verdict.checks.items()},
                reasons={name.value: result.reason for name, result in verdict.checks.items()},
                blocking_rule=verdict.blocking_rule,
                blocking_reason=verdict.blocking_reason,
                decided_at=now,
                next_permitted_at=verdict.next_permitted_at,
            )
            for seq, (jurisdiction, verdict) in zip(seqs, verdicts, strict=True)
        ]


def parse_audit_ref(audit_ref: str) -> int | None:
    digits = audit_ref.removeprefix(AUDIT_PREFIX)
    if audit_ref.startswith(AUDIT_PREFIX) and digits.isdigit() and len(digits) < 19:
        return int(digits)
    return None


__all__ = ["Asker", "Channel", "CheckRequest", "Decision", "Engine", "Outcome", "parse_audit_ref"]
