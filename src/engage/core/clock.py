"""Where "now" comes from. Code never calls `datetime.now()` itself; it is handed a `Clock`.

Invariant: every instant a clock returns is timezone-aware UTC.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """Starts at `start` and runs at normal speed: `ENGAGE_SIM_CLOCK_START` (DESIGN.md §2)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._start = start.astimezone(UTC)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin)


class ManualClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


def isoformat_z(instant: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, the seed's rendering of every instant."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
