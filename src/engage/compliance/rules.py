"""Rule sets as data: one TOML file per jurisdiction and version in `rulesets/`, each rule with its source.

`RuleBook.for_jurisdiction(code, on)` gives the version in effect on a date: the latest whose
`effective_from` is not after it. A jurisdiction without a file gets the default set (`default.toml`,
jurisdiction "*"), with its code filled in. Loading validates everything, so a malformed file fails at start,
not in the middle of a decision.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import date, time
from functools import cache
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

DEFAULT = "*"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()


def _clock_time(value: object) -> object:
    """ "HH:MM" in the files; "24:00" is not a time, and a window ending at midnight is written "00:00"."""
    if isinstance(value, str) and len(value) == 5 and value[2] == ":":
        return time(int(value[:2]), int(value[3:]))
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Data):
    """Local times calls are allowed in, from `start` (included) to `end` (excluded); an `end` at or before
    `start` crosses midnight (12:00-01:00 is thirteen hours, the last one after midnight)."""

    start: ClockTime
    end: ClockTime

    def contains(self, at: time) -> bool:
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end

    def label(self) -> str:
        return f"{self.start:%H:%M}\u2013{self.end:%H:%M}"


class CallingHours(_Data):
    windows: list[Window] = Field(min_length=1)
    days: list[str] = Field(min_length=1)
    blocking_reason: str
    source: str

    def allows_day(self, day: date) -> bool:
        return DAY_NAMES[day.weekday()] in self.days


class Ramadan(_Data):
    """Windows that replace `calling_hours.windows` while the callee's local date is in Ramadan."""

    windows: list[Window] = Field(min_length=1)
    blocking_reason: str
    source: str


class Holidays(_Data):
    country: str | None = None  # None: the jurisdiction's own calendar
    calls_allowed: bool
    source: str


class Registry(_Data):
    name: str
    blocks_when_not_loaded: bool
    source: str


class Consent(_Data):
    required: bool
    scope: str
    source: str


class Frequency(_Data):
    unanswered_per_day: int = Field(ge=1)
    unanswered_per_week: int = Field(ge=1)
    final_dispositions: list[str]
    source: str


class RuleSet(_Data):
    jurisdiction: str
    rule_version: str
    effective_from: date
    confirmed: bool
    source: str
    timezone: str | None = None  # the country's main zone, when a number gives none
    calling_hours: CallingHours
    ramadan: Ramadan | None = None
    holidays: Holidays
    registry: Registry
    consent: Consent
    frequency: Frequency | None = None

    @property
    def holiday_country(self) -> str:
        return self.holidays.country or self.jurisdiction

    def for_jurisdiction(self, code: str) -> RuleSet:
        """The default set applied to a country: its code in the rule set and in the blocking reason."""
        hours = self.calling_hours.model_copy(
            update={"blocking_reason": self.calling_hours.blocking_reason.format(jurisdiction=code)}
        )
        return self.model_copy(update={"jurisdiction": code, "calling_hours": hours})


class UnknownRuleSet(LookupError):
    pass


class RuleBook:
    """Every rule set, by jurisdiction, oldest version first."""

    def __init__(self, rule_sets: Iterable[RuleSet]) -> None:
        by_code: dict[str, list[RuleSet]] = {}
        for rule_set in rule_sets:
            by_code.setdefault(rule_set.jurisdiction, []).append(rule_set)
        if DEFAULT not in by_code:
            raise ValueError("a rule book needs the default rule set (jurisdiction '*')")
        self._by_code = {code: sorted(sets, key=lambda s: s.effective_from) for code, sets in by_code.items()}

    def for_jurisdiction(self, code: str, on: date) -> RuleSet:
        versions = self._by_code.get(code)
        if versions is None:
            return self._in_effect(self._by_code[DEFAULT], on).for_jurisdiction(code)
        return self._in_effect(versions, on)

    def current(self, on: date) -> list[RuleSet]:
        """The version of each jurisdiction in effect on `on` (the default set last)."""
        codes = [*sorted(code for code in self._by_code if code != DEFAULT), DEFAULT]
        return [self._in_effect(self._by_code[code], on) for code in codes]

    @staticmethod
    def _in_effect(versions: list[RuleSet], on: date) -> RuleSet:
        in_effect = [rule_set for rule_set in versions if rule_set.effective_from <= on]
        if not in_effect:
            # Before the first version there is no rule to apply: the engine denies.
            raise UnknownRuleSet(f"no rule set for {versions[0].jurisdiction} in effect on {on.isoformat()}")
        return in_effect[-1]


def parse(text: str) -> RuleSet:
    return RuleSet.model_validate(tomllib.loads(text))


@cache
def shipped() -> RuleBook:
    """The rule sets shipped in the package (`engage/compliance/rulesets/*.toml`)."""
    folder = resources.files(__package__).joinpath("rulesets")
    return RuleBook(
        parse(entry.read_text(encoding="utf-8")) for entry in folder.iterdir() if entry.name.endswith(".toml")
    )
