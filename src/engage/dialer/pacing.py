"""How many lines a campaign starts now: pure functions of a snapshot (no database, no event loop, no clock —
the time is in the snapshot), so the worker, the benchmarks and tests run the same objects unchanged.

The seam: a `Pacer` turns a `PacingSnapshot` into a `PacingDecision` (how many lines, and why). The worker
builds the snapshot each tick from the campaign's agents, its calls in progress and its recent history;
`modes.pacer_for(mode)` picks the model by `dialing_mode`. The predictive model (`predictive.py`) reads all of it:
each agent's phase and time in it, each line's ring time, and the campaign's recent calls. A pacer may keep
memos between calls (the predictive one caches its estimates per history), never anything the snapshot does
not determine: the same snapshots in the same order give the same answers.

Invariants of every pacer: never a negative number; never a line when no agent is available to take it
(progressive and power count *available* agents — assigned, `available` and SIP-registered — never merely
logged-in ones); lines already ringing and callers already waiting for an agent count against the new ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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


class AgentPhase(StrEnum):
    """Where a busy agent is in the call cycle: `reserved` (a call is being put through), `on_call` (talking;
    `seconds_in_state` is the talk time so far) or `wrap_up` (`seconds_in_state` into the wrap-up)."""

    reserved = "reserved"
    on_call = "on_call"
    wrap_up = "wrap_up"


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    activity: AgentActivity
    seconds_in_state: float = 0.0
    # Busy agents only; a busy agent without one counts as on a call of `seconds_in_state`.
    phase: AgentPhase | None = None


@dataclass(frozen=True, slots=True)
class LineSnapshot:
    """A customer leg of the campaign not yet connected to an agent: ringing, or answered and waiting."""

    seconds_ringing: float
    answered: bool = False


@dataclass(frozen=True, slots=True)
class CallSample:
    """One dial attempt of the campaign whose outcome is known, as the estimators need it.

    A dial's outcome is known when a person has met an agent or hung up waiting for one (`human`, and
    `abandoned` for the latter), when a machine answered, or when it ended unanswered; `at` is that moment.
    Recording a person's answer then, not when the talk ends, keeps the answer rate unbiased: a sample per
    dial as soon as the dial is decided. `ring_seconds`: from placing the call to its answer, or to its end
    when it was never answered.
    """

    at: datetime
    ring_seconds: float
    human: bool = False
    abandoned: bool = False


@dataclass(frozen=True, slots=True)
class CampaignHistory:
    """The campaign's outcomes: the rolling-24 h counts the abandon rate is measured on (`answered` = human
    answers), its most recent decided dials (oldest first; the worker passes a few hundred) and the talk
    times of its most recent finished calls (oldest first). Progressive and power ignore it."""

    dialled: int = 0
    answered: int = 0
    abandoned: int = 0
    recent: tuple[CallSample, ...] = ()
    talks: tuple[float, ...] = ()

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned / human-answered over the rolling 24 h, in percent; None before any human answer."""
        return None if self.answered == 0 else 100.0 * self.abandoned / self.answered


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    now: datetime
    agents: tuple[AgentSnapshot, ...]
    lines: tuple[LineSnapshot, ...] = ()
    dial_ratio: float = 1.0
    abandon_rate_target: float = 3.0
    history: CampaignHistory = field(default_factory=CampaignHistory)
    # The campaign's call cycle, for models that forecast when agents free up and when lines end.
    wrap_up_seconds: float = 15.0
    ring_timeout_seconds: float = 30.0
    # A callee answered and not bridged within this long is abandoned (DESIGN.md §3).
    abandon_after_seconds: float = 2.0

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


@dataclass(frozen=True, slots=True)
class PacingDecision:
    """How many new customer legs to originate now, why, and the model's figures (for diagnostics)."""

    lines: int
    reason: str
    figures: Mapping[str, float | int | None] = field(default_factory=dict)


class Pacer(Protocol):
    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        """How many new customer legs to originate now (0 or more), and why."""
        ...


def _no_agent_reason(snapshot: PacingSnapshot) -> str | None:
    if snapshot.logged_in_agents == 0:
        return "no agent of the campaign is logged in"
    if snapshot.available_agents == 0:
        return "no agent is available and registered"
    return None


class PreviewPacer:
    """Preview: the agent starts every call (`/v1/agents/me/preview`); the dialer never does."""

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        return PacingDecision(0, "preview: agents start their own calls")


class ProgressivePacer:
    """One line per available agent, less the lines already out for them: no agent is ever waited for, and a
    callee is abandoned only if an agent leaves between the dial and the answer."""

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        blocked = _no_agent_reason(snapshot)
        if blocked is not None:
            return PacingDecision(0, blocked)
        wanted = max(0, snapshot.available_agents - snapshot.lines_in_progress)
        reason = f"{snapshot.available_agents} available agent(s), {snapshot.lines_in_progress} line(s) already out"
        return PacingDecision(wanted, reason)


class PowerPacer:
    """`dial_ratio` lines per *available* agent (rounded down), less the lines already out. With a ratio above
    one it trades abandoned calls for agent talk time; the predictive model exists to hold that trade to a
    target."""

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        blocked = _no_agent_reason(snapshot)
        if blocked is not None:
            return PacingDecision(0, blocked)
        available = snapshot.available_agents
        # A tiny epsilon so a ratio like 1.5 x 2 agents gives 3, not 2.9999....
        wanted = math.floor(available * snapshot.dial_ratio + 1e-9)
        reason = (
            f"{snapshot.dial_ratio:g} line(s) per available agent x {available}, "
            f"{snapshot.lines_in_progress} line(s) already out"
        )
        return PacingDecision(max(0, wanted - snapshot.lines_in_progress), reason)
