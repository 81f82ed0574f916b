"""The pacer of each dialing mode."""

from __future__ import annotations

from .pacing import Pacer, PowerPacer, PreviewPacer, ProgressivePacer
from .predictive import PredictivePacer


def pacer_for(mode: str) -> Pacer:
    """A new pacer for a campaign's `dialing_mode`. Keep it for the campaign: the predictive one memoises its
    estimates between ticks."""
    if mode == "preview":
        return PreviewPacer()
    if mode == "progressive":
        return ProgressivePacer()
    if mode == "power":
        return PowerPacer()
    if mode == "predictive":
        return PredictivePacer()
    raise ValueError(f"no pacer for dialing mode {mode!r}")
