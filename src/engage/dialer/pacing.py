"""How many lines a campaign starts now: pure functions of a snapshot (no database, no event loop, no clock —
the time is in the snapshot), so the worker, the benchmarks and tests run the same objects unchanged.

The seam: a `Pacer` turns a `PacingSnapshot` into a number of lines. The worker builds the snapshot each tick
from the campaign's agents and its calls in progress; `pacer_for(mode)` picks the model by `dialing_mode`.
A model added later (predictive) reads the same snapshot, including each agent's time in state and each
line's ring time, and the campaign's recent history.

Invariants of every pacer: never a negative number; never a line when no agent is available to take it
(progressive and power count *available* agents — assigned, `available` and SIP-registered — never merely
logged-in ones); lines already ringing and callers already waiting for an agent count against the new ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class AgentActivity(StrEnum):
    """What the pacer needs to know of an agent's state (DESIGN.md §3 states, grouped)."""

    available = "available"  # available and SIP-registered: can take a call now
    busy = "busy"  # reserved, on a call, or in wrap-up: will be free later
    away = "away"  # logged in but on break, lunch, training, or not registered
    offline = "offline"


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    activity: AgentActivity
    seconds_in_state: float = 0.0


@dataclass(frozen=True, slots=True)
class LineSnapshot:
    """A customer leg of the campaign not yet connected to an agent: ringing, or answered and waiting."""

    seconds_ringing: float
    answered: bool = False


@dataclass(frozen=True, slots=True)
class CampaignHistory:
    """The campaign's recent outcomes (rolling 24 h): for models that estimate rates. Progressive and power
    ignore it."""

    dialled: int = 0
    answered: int = 0
    abandoned: int = 0


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    now: datetime
    agents: tuple[AgentSnapshot, ...]
    lines: tuple[LineSnapshot, ...] = ()
    dial_ratio: float = 1.0
    abandon_rate_target: float = 3.0
    history: CampaignHistory = field(default_factory=CampaignHistory)

    @property
    def available_agents(self) -> int:
        return sum(1 for agent in self.agents if agent.activity is AgentActivity.available)

    @property
    def logged_in_agents(self) -> int:
        return sum(1 for agent in self.agents if agent.activity is not AgentActivity.offline)

    @property
    def lines_in_progress(self) -> int:
        """Lines that will want an agent if answered, or already do."""
        return len(self.lines)


class Pacer(Protocol):
    def lines_to_start(self, snapshot: PacingSnapshot) -> int:
        """How many new customer legs to originate now (0 or more)."""
        ...


class PreviewPacer:
    """Preview: the agent starts every call (`/v1/agents/me/preview`); the dialer never does."""

    def lines_to_start(self, snapshot: PacingSnapshot) -> int:
        return 0


class ProgressivePacer:
    """One line per available agent, less the lines already out for them: no agent is ever waited for, and a
    callee is abandoned only if an agent leaves between the dial and the answer."""

    def lines_to_start(self, snapshot: PacingSnapshot) -> int:
        return max(0, snapshot.available_agents - snapshot.lines_in_progress)


class PowerPacer:
    """`dial_ratio` lines per *available* agent (rounded down), less the lines already out. With a ratio above
    one it trades abandoned calls for agent talk time; the predictive model exists to hold that trade to a
    target."""

    def lines_to_start(self, snapshot: PacingSnapshot) -> int:
        available = snapshot.available_agents
        if available == 0:
            return 0
        # A tiny epsilon so a ratio like 1.5 x 2 agents gives 3, not 2.9999....
        wanted = math.floor(available * snapshot.dial_ratio + 1e-9)
        return max(0, wanted - snapshot.lines_in_progress)


class PacingModeUnavailable(LookupError):
    """A dialing mode that has no pacer in this release."""


def pacer_for(mode: str) -> Pacer:
    """The pacer of a campaign's `dialing_mode`. `predictive` arrives with its own issue; until then a
    predictive campaign cannot start (campaigns refuses it), so asking here is a programming error."""
    if mode == "preview":
        return PreviewPacer()
    if mode == "progressive":
        return ProgressivePacer()
    if mode == "power":
        return PowerPacer()
    raise PacingModeUnavailable(f"no pacer for dialing mode {mode!r}")
