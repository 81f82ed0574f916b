"""The dialer worker's knobs (`WorkerConfig`): ring time, tick and heartbeat periods, lease staleness, the
per-tick line cap, the abandon deadline and where recordings go. `DialerSettings` in production; tests shorten
the ring time and ticks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engage.config import DialerSettings

from .snapshots import ABANDON_AFTER_SECONDS, PacingLimits


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """The worker's knobs: `DialerSettings` in production; tests shorten the ring time and ticks."""

    ring_timeout_seconds: int = 30
    tick_seconds: float = 0.25
    heartbeat_seconds: float = 2.0
    lease_stale_seconds: int = 15
    max_lines_per_tick: int = 50
    abandon_after_seconds: float = ABANDON_AFTER_SECONDS
    recordings_dir: Path = Path(".engage/recordings")

    @property
    def pacing_limits(self) -> PacingLimits:
        return PacingLimits(
            ring_timeout_seconds=float(self.ring_timeout_seconds), abandon_after_seconds=self.abandon_after_seconds
        )

    @classmethod
    def from_settings(cls, settings: DialerSettings, data_dir: Path) -> WorkerConfig:
        return cls(
            ring_timeout_seconds=settings.ring_timeout_seconds,
            tick_seconds=settings.tick_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            lease_stale_seconds=settings.lease_stale_seconds,
            max_lines_per_tick=settings.max_lines_per_tick,
            recordings_dir=(data_dir / "recordings").resolve(),
        )
