"""The checks, as pure functions of a rule set, what is being decided, the facts gathered for it and the
instant. No I/O: the engine gathers the facts, these decide, so every rule is unit-tested with plain data.

Each check is `passed`, `failed` or `skipped`, with a reason. A failed check blocks; a skipped one blocks
only where the rule set says so (a national registry never loaded, in a jurisdiction that requires it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from engage.consents.models import Consent
from engage.consents.service import covering

from . import calendar
from .models import DialAttempt
from .rules import RuleSet, Window


class Outcome(StrEnum):
    passed = "passed"
    failed = "failed"
    skipped = "skipped"


class CheckName(StrEnum):
    """In the seed's order, which is also the order a blocking rule is chosen in."""

    calling_hours = "calling_hours"
    dnc_national = "dnc_national"
    dnc_tenant = "dnc_tenant"
    consent = "consent"
    cli_ownership = "cli_ownership"
    frequency_cap = "frequency_cap"


# Every decision that could not be made (an error, a time-out, missing data) is this denial.
COMPLIANCE_ERROR = "compliance_error"


@dataclass(frozen=True, slots=True)
class CheckResult:
    outcome: Outcome
    reason: str
    blocks: bool = False

    @classmethod
    def passed(cls, reason: str) -> CheckResult:
        return cls(Outcome.passed, reason)

    @classmethod
    def failed(cls, reason: str) -> CheckResult:
        return cls(Outcome.failed, reason, blocks=True)

    @classmethod
    def skipped(cls, reason: str, *, blocks: bool = False) -> CheckResult:
        return cls(Outcome.skipped, reason, blocks=blocks)


@dataclass(frozen=True, slots=True)
class Subject:
    """What is being decided: a valid E.164 number, its jurisdiction and the callee's zone, the campaign's own
    calling window (local to the callee) and the caller ID to present, when known."""

    phone: str
    jurisdiction: str
    zone: ZoneInfo
    campaign_window: Window | None = None
    cli: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    on_tenant_dnc: bool
    registry_loaded: bool
    on_registry: bool
    consents: Sequence[Consent] = ()
    # None: no caller ID to check (no campaign and none given); True/False: owned by the tenant or not.
    cli_owned: bool | None = None
    attempts: Sequence[DialAttempt] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    checks: dict[CheckName, CheckResult]
    blocking_rule: str | None = None
    blocking_reason: str | None = None
    rule_version: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def calling_hours(rules: RuleSet, subject: Subject, now: datetime) -> CheckResult:
    local = now.astimezone(subject.zone)
    day, at = local.date(), local.time()
    hours = rules.calling_hours
    if not hours.allows_day(day):
        return CheckResult.failed(hours.blocking_reason)
    holiday = calendar.holiday(rules.holiday_country, day)
    if holiday is not None and not rules.holidays.calls_allowed:
        return CheckResult.failed(f"No calls on public holidays in {rules.jurisdiction}: {holiday}.")
    if rules.ramadan is not None and _in_ramadan(day, at, rules.ramadan.windows):
        windows, reason = rules.ramadan.windows, rules.ramadan.blocking_reason
    else:
        windows, reason = hours.windows, hours.blocking_reason
    if not any(window.contains(at) for window in windows):
        return CheckResult.failed(reason)
    window = subject.campaign_window
    if window is not None and not window.contains(at):
        return CheckResult.failed(f"Outside the campaign's calling window ({window.label()}, callee local time).")
    return CheckResult.passed(f"{local:%a %H:%M} in {subject.zone.key} is inside the permitted hours.")


def _in_ramadan(day: date, at: time, windows: Sequence[Window]) -> bool:
    """Ramadan hours apply on a Ramadan date, and after midnight following one (01:00 on the first day of
    Shawwal still belongs to the last Ramadan evening's window)."""
    if calendar.is_ramadan(day):
        return True
    crosses_midnight = [w for w in windows if w.end <= w.start]
    return any(at < w.end for w in crosses_midnight) and calendar.is_ramadan(day - timedelta(days=1))


def dnc_national(rules: RuleSet, facts: Facts) -> CheckResult:
    if not facts.registry_loaded:
        return CheckResult.skipped("registry not loaded", blocks=rules.registry.blocks_when_not_loaded)
    if facts.on_registry:
        return CheckResult.failed(f"The number is on the {rules.registry.name}.")
    return CheckResult.passed(f"Not on the {rules.registry.name}.")


def dnc_tenant(facts: Facts) -> CheckResult:
    if facts.on_tenant_dnc:
        return CheckResult.failed("The number is on your organisation's do-not-call list.")
    return CheckResult.passed("Not on your organisation's do-not-call list.")


def consent(rules: RuleSet, facts: Facts, now: datetime) -> CheckResult:
    scope = rules.consent.scope
    record = covering(facts.consents, scope, now)
    if record is not None:
        return CheckResult.passed(f"Consent for {scope} calls recorded {record.granted_at:%Y-%m-%d}.")
    withdrawn = any(
        r.withdrawn_at is not None and r.withdrawn_at <= now and r.scope in (scope, "all") for r in facts.consents
    )
    if withdrawn:
        # An explicit withdrawal is a "no" everywhere, whether or not the jurisdiction requires consent.
        return CheckResult.failed(f"The callee withdrew consent to {scope} calls.")
    if rules.consent.required:
        return CheckResult.failed(
            f"{rules.jurisdiction} requires the callee's consent to {scope} calls; none is recorded."
        )
    return CheckResult.passed(f"Consent is not required for {scope} calls in {rules.jurisdiction}.")


def cli_ownership(facts: Facts) -> CheckResult:
    if facts.cli_owned is None:
        return CheckResult.skipped("No caller ID given and no campaign to take one from.")
    if not facts.cli_owned:
        return CheckResult.failed("The caller ID is not one of your organisation's CLI groups' numbers.")
    return CheckResult.passed("The caller ID belongs to one of your CLI groups.")


def frequency_cap(rules: RuleSet, subject: Subject, facts: Facts, now: datetime) -> CheckResult:
    cap = rules.frequency
    assert cap is not None
    final = [a for a in facts.attempts if a.disposition is not None and a.disposition in cap.final_dispositions]
    if final:
        return CheckResult.failed(f"The last call was dispositioned '{final[-1].disposition}': never again.")
    today = now.astimezone(subject.zone).date()
    unanswered = [a for a in facts.attempts if not a.answered and a.attempted_at <= now]
    today_count = sum(1 for a in unanswered if a.attempted_at.astimezone(subject.zone).date() == today)
    week_count = sum(1 for a in unanswered if a.attempted_at > now - timedelta(days=7))
    if today_count >= cap.unanswered_per_day:
        return CheckResult.failed(
            f"Already called unanswered {today_count} time(s) today; "
            f"{rules.jurisdiction} allows {cap.unanswered_per_day}."
        )
    if week_count >= cap.unanswered_per_week:
        return CheckResult.failed(
            f"Already called unanswered {week_count} time(s) in 7 days; {rules.jurisdiction} allows "
            f"{cap.unanswered_per_week}."
        )
    return CheckResult.passed("Within the repeat-call limits.")


def evaluate(rules: RuleSet, subject: Subject, facts: Facts, now: datetime) -> Verdict:
    """Every check, then the decision: allowed only if none blocks; the first blocking one, in CheckName order,
    is the `blocking_rule`."""
    steps: list[tuple[CheckName, Callable[[], CheckResult]]] = [
        (CheckName.calling_hours, lambda: calling_hours(rules, subject, now)),
        (CheckName.dnc_national, lambda: dnc_national(rules, facts)),
        (CheckName.dnc_tenant, lambda: dnc_tenant(facts)),
        (CheckName.consent, lambda: consent(rules, facts, now)),
        (CheckName.cli_ownership, lambda: cli_ownership(facts)),
    ]
    if rules.frequency is not None:
        steps.append((CheckName.frequency_cap, lambda: frequency_cap(rules, subject, facts, now)))
    checks = {name: run() for name, run in steps}
    blocking = next(((name, result) for name, result in checks.items() if result.blocks), None)
    if blocking is None:
        return Verdict(allowed=True, checks=checks, rule_version=rules.rule_version)
    name, result = blocking
    return Verdict(
        allowed=False,
        checks=checks,
        blocking_rule=name.value,
        blocking_reason=result.reason,
        rule_version=rules.rule_version,
    )
