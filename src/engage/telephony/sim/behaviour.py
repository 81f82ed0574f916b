"""How the simulated callees behave: the answer, busy and voicemail rates and the ring and talk ranges, from the
`ENGAGE_SIM_*` settings (DESIGN.md §2) or a test's own values.

Invariants: rates are fractions within 0-1 that add up to at most 1 (the rest ring out as no answer); ranges are
`0 <= low <= high` seconds. A `Behaviour` is checked when built, so the simulator never meets a bad one.
"""

from __future__ import annotations

from dataclasses import dataclass

from engage.config import SimSettings

__all__ = ["DEFAULT_BEHAVIOUR", "Behaviour", "parse_range"]


def parse_range(text: str) -> tuple[float, float]:
    """`"2-8"` → (2.0, 8.0); a single number is a fixed duration."""
    low_text, separator, high_text = text.strip().partition("-")
    try:
        low = float(low_text)
        high = float(high_text) if separator else low
    except ValueError as exc:
        raise ValueError(f"not a range of seconds: {text!r} (expected e.g. '2-8')") from exc
    if low < 0 or high < low:
        raise ValueError(f"not a range of seconds: {text!r} (expected 0 <= low <= high)")
    return low, high


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How simulated callees behave. Rates are fractions of calls; the rest (1 - answer - busy - voicemail) ring
    out as no answer. Ring and talk times are drawn uniformly in their ranges (seconds)."""

    answer_rate: float = 0.35
    busy_rate: float = 0.10
    voicemail_rate: float = 0.05
    ring_seconds: tuple[float, float] = (2.0, 8.0)
    talk_seconds: tuple[float, float] = (20.0, 120.0)
    seed: int | None = None

    def __post_init__(self) -> None:
        rates = (self.answer_rate, self.busy_rate, self.voicemail_rate)
        if any(rate < 0 or rate > 1 for rate in rates) or sum(rates) > 1 + 1e-9:
            raise ValueError("answer, busy and voicemail rates must be within 0-1 and add up to at most 1")
        for low, high in (self.ring_seconds, self.talk_seconds):
            if low < 0 or high < low:
                raise ValueError("ring and talk ranges need 0 <= low <= high")

    @classmethod
    def from_settings(cls, sim: SimSettings) -> Behaviour:
        return cls(
            answer_rate=sim.answer_rate,
            busy_rate=sim.busy_rate,
            voicemail_rate=sim.voicemail_rate,
            ring_seconds=parse_range(sim.ring_seconds),
            talk_seconds=parse_range(sim.talk_seconds),
            seed=sim.seed,
        )


DEFAULT_BEHAVIOUR = Behaviour()
