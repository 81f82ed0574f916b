"""The checks, as pure functions of a rule set, what is being decided, the facts gathered for it and the
instant. No I/O: the engine gathers the facts, these decide, so every rule is unit-tested with plain data.

Each check is `passed`, `failed` or `skipped`, with a reason. A failed check blocks; a skipped one blocks
only where the rule set says so (a national registry never loaded, in a jurisdiction that requires it).
A decision blocked by `calling_hours` also says when the callee may next be called (`next_permitted`), so the
dialer reschedules the contact instead of spending an attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from engage.consents.service import ConsentTerms, covering

from . import calendar
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

# How far ahead `next_permitted` looks. The longest closure the shipped rule sets produce is an Eid run beside
# a weekend (about a week); past two weeks the dialer's own retry policy decides.
NEXT_PERMITTED_HORIZON = timedelta(days=14)
_DAY = timedelta(days=1)
# Around a day's span when looking for its offset change. tzdata has no zone changing its offset twice within
# two days (checked for 2000-2040), so a span of a day and a half holds at most one change.
_SEARCH_MARGIN = timedelta(hours=6)


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


class Attempted(Protocol):
    """What the frequency cap reads of an attempt (a `DialAttempt`, or the `Attempt` the engine gathers)."""

    @property
    def attempted_at(self) -> datetime: ...
    @property
    def answered(self) -> bool: ...
    @property
    def disposition(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Facts:
    on_tenant_dnc: bool
    registry_loaded: bool
    on_registry: bool
    consents: Sequence[ConsentTerms] = ()
    # None: no caller ID to check (no campaign and none given); True/False: owned by the tenant or not.
    cli_owned: bool | None = None
    attempts: Sequence[Attempted] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    checks: dict[CheckName, CheckResult]
    blocking_rule: str | None = None
    blocking_reason: str | None = None
    rule_version: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # Only when `calling_hours` is the blocking rule: the first instant it passes (None: not within the horizon).
    next_permitted_at: datetime | None = None


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


def next_permitted(rules: RuleSet, subject: Subject, now: datetime) -> datetime | None:
    """The earliest instant, `now` included, at which `calling_hours` passes, in UTC; None if there is none
    within `NEXT_PERMITTED_HORIZON`.

    `calling_hours` depends only on the callee's local date and wall time. As time goes by it can turn from
    failing to passing only at a window's start (legal, Ramadan or campaign: the campaign's is intersected with
    the legal one), at local midnight (weekday, holiday and Ramadan are per date; a Ramadan window crossing
    midnight opens a day at 00:00), at the end of a Ramadan window crossing midnight (the day's own windows
    take over) or when the zone's UTC offset changes (the wall clock jumps). Those instants are the only
    candidates, so the first candidate that passes is exact, with no scanning by the minute.
    """
    if calling_hours(rules, subject, now).outcome is Outcome.passed:
        return now.astimezone(UTC)
    horizon = now + NEXT_PERMITTED_HORIZON
    openings = _opening_times(rules, subject)
    midnight = datetime.combine(now.astimezone(subject.zone).date(), time())  # the callee's wall clock
    offset = _utcoffset(midnight, subject.zone)
    candidates: set[datetime] = set()
    for _ in range(NEXT_PERMITTED_HORIZON.days + 1):
        next_offset = _utcoffset(midnight + _DAY, subject.zone)
        candidates |= _readings(midnight, offset, next_offset, openings, subject.zone)
        midnight, offset = midnight + _DAY, next_offset
    for candidate in sorted(c for c in candidates if now < c <= horizon):
        if calling_hours(rules, subject, candidate).outcome is Outcome.passed:
            return candidate
    return None


def _opening_times(rules: RuleSet, subject: Subject) -> set[timedelta]:
    """The local wall times, as time since midnight, at which `calling_hours` may start to pass on any day."""
    times = {time(), *(w.start for w in rules.calling_hours.windows)}
    if rules.ramadan is not None:
        times.update(w.start for w in rules.ramadan.windows)
        times.update(w.end for w in rules.ramadan.windows if w.end <= w.start)
    if subject.campaign_window is not None:
        times.add(subject.campaign_window.start)
    return {timedelta(hours=t.hour, minutes=t.minute, seconds=t.second) for t in times}


def _readings(
    midnight: datetime, offset: timedelta, next_offset: timedelta, openings: set[timedelta], zone: ZoneInfo
) -> set[datetime]:
    """The UTC instants at which the wall clock in `zone` shows each opening time of the day starting at
    `midnight` (naive, local; `offset` there and `next_offset` at the next midnight), and the instant the offset
    changes if it does that day."""
    if offset == next_offset:
        # Every day in a zone without DST, and most days in one: a single offset, plain arithmetic.
        start = (midnight - offset).replace(tzinfo=UTC)
        return {start + at for at in openings}
    # Both readings of a time the clock shows twice; a time it skips reads as an instant near the jump, and
    # the jump itself (the first instant showing the time after the gap) is added.
    readings = {(midnight + at).replace(tzinfo=zone, fold=fold).astimezone(UTC) for at in openings for fold in (0, 1)}
    low = (midnight - offset).replace(tzinfo=UTC) - _SEARCH_MARGIN
    high = (midnight + _DAY - next_offset).replace(tzinfo=UTC) + _SEARCH_MARGIN
    readings.add(_offset_change(zone, int(low.timestamp()), int(high.timestamp())))
    return readings


def _offset_change(zone: ZoneInfo, low: int, high: int) -> datetime:
    """The instant, to the second (tzdata's resolution), at which the offset changes between the POSIX
    timestamps `low` and `high`, which have different offsets."""
    first = _offset_at(zone, low)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(zone, middle) == first:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _utcoffset(wall: datetime, zone: ZoneInfo) -> timedelta:
    """The offset in force at a naive local wall time (its first reading, if the clock shows it twice)."""
    return wall - wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def _offset_at(zone: ZoneInfo, timestamp: int) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()


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
    if cap is None:
        # `evaluate` runs this check only when the jurisdiction has a cap; a direct caller gets an honest skip.
        return CheckResult.skipped(f"{rules.jurisdiction} sets no repeat-call limits.")
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
    is the `blocking_rule`. Blocked by `calling_hours`, the verdict carries `next_permitted_at`."""
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
        next_permitted_at=next_permitted(rules, subject, now) if name is CheckName.calling_hours else None,
    )
