"""Public holidays (the `holidays` package) and Ramadan (the Umm al-Qura calendar of `hijridate`), by the
callee's local date. Both raise outside the ranges they know, and the engine turns that into a denial."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays
from hijridate import Gregorian

_RAMADAN = 9


@lru_cache(maxsize=256)
def _calendar(country: str, year: int) -> holidays.HolidayBase | None:
    try:
        return holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return None  # a country the package does not know: no public holidays to apply


def holiday(country: str, day: date) -> str | None:
    """The name of the public holiday on `day` in `country`, or None."""
    calendar = _calendar(country, day.year)
    if calendar is None:
        return None
    name = calendar.get(day)
    return str(name) if name is not None else None


@lru_cache(maxsize=4096)
def is_ramadan(day: date) -> bool:
    return Gregorian(day.year, day.month, day.day).to_hijri().month == _RAMADAN
