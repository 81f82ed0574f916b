"""A discrete-event simulation of one campaign's floor, driving any pacer through the pacing seam.

Pure and seeded: the same scenario, pacer and seed give the same result. Callees answer (a person, after a
log-normal time), are busy, fail fast or ring out at the ring timeout; an answered callee who meets no free
agent within the abandon grace hangs up (abandoned); agents talk (log-normal), wrap up, and take the
longest-waiting caller first. The pacer is asked every `tick_seconds` with the same snapshot the worker
builds, and its history is the simulated campaign's own calls: nothing of the scenario is told to it.

Used by `engage bench pacing`, by the staffing forecast (`POST /v1/campaigns/{id}/forecast`) and by tests.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from .pacing import (
    AgentActivity,
    AgentPhase,
    AgentSnapshot,
    CallSample,
    CampaignHistory,
    LineSnapshot,
    Pacer,
    PacingSnapshot,
)
from .predictive import LogNormal

EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
HISTORY_SIZE = 400
# The rolling abandon rate is watched once the campaign has this many human answers (before, one abandon is
# a large share of few answers; the law's rates are over a day or a month).
WARM_UP_ANSWERS = 100


@dataclass(frozen=True, slots=True)
class Scenario:
    """A floor and its list. Rates are per dial; the rest of the dials ring out at the ring timeout."""

    agents: int = 20
    hours: float = 6.0
    human_answer: float = 0.30
    busy: float = 0.10
    fast_failure: float = 0.05
    ring_timeout_seconds: float = 30.0
    time_to_answer: tuple[float, float] = (12.0, 6.0)  # log-normal mean, sd (seconds)
    talk: tuple[float, float] = (180.0, 120.0)
    busy_seconds: tuple[float, float] = (3.0, 8.0)  # uniform
    fast_failure_seconds: tuple[float, float] = (0.5, 2.0)
    wrap_up_seconds: float = 15.0
    abandon_after_seconds: float = 2.0
    tick_seconds: float = 1.0
    dial_ratio: float = 1.0
    abandon_rate_target: float = 3.0
    # (from hour, human answer rate): the list changes under the pacer.
    answer_rate_changes: tuple[tuple[float, float], ...] = ()
    # (from hour, to hour): every agent goes away (after the call in hand) and comes back.
    breaks: tuple[tuple[float, float], ...] = ()

    def human_answer_at(self, hour: float) -> float:
        rate = self.human_answer
        for start, changed in sorted(self.answer_rate_changes):
            if hour >= start:
                rate = changed
        return rate

    def on_break(self, hour: float) -> bool:
        return any(start <= hour < end for start, end in self.breaks)


@dataclass
class Result:
    seconds: float = 0.0
    agents: int = 0
    dials: int = 0
    human_answers: int = 0
    connects: int = 0
    abandoned: int = 0
    talk_seconds: float = 0.0
    dials_without_agent: int = 0
    max_rolling_abandon_rate: float = 0.0  # percent, once warmed up
    decisions: int = 0
    completed: bool = True  # False when a time budget cut the run short

    @property
    def abandon_rate(self) -> float:
        return 0.0 if self.human_answers == 0 else 100.0 * self.abandoned / self.human_answers

    @property
    def occupancy(self) -> float:
        """Agent talk occupancy: talk time over the agents' logged-in time."""
        return 0.0 if self.seconds <= 0 or self.agents == 0 else self.talk_seconds / (self.agents * self.seconds)

    @property
    def connects_per_hour(self) -> float:
        return 0.0 if self.seconds <= 0 else 3600.0 * self.connects / self.seconds

    @property
    def dials_per_hour(self) -> float:
        return 0.0 if self.seconds <= 0 else 3600.0 * self.dials / self.seconds


class _Kind(Enum):
    HUMAN = 0
    ENDED = 1  # busy, fast failure or no answer: the line ends without a person
    ABANDON = 2
    TALK_END = 3
    WRAP_END = 4


@dataclass(slots=True)
class _Line:
    dialled_at: float
    answered_at: float | None = None
    done: bool = False


@dataclass(slots=True)
class _Agent:
    index: int
    state: AgentPhase | None = None  # None: available (or away during a break)
    since: float = 0.0
    away: bool = False


@dataclass
class _Floor:
    scenario: Scenario
    pacer: Pacer
    rng: random.Random
    deadline: float | None
    result: Result = field(default_factory=Result)
    now: float = 0.0
    events: list[tuple[float, int, _Kind, object]] = field(default_factory=list)
    order: itertools.count[int] = field(default_factory=itertools.count)
    lines: dict[int, _Line] = field(default_factory=dict)
    waiting: deque[int] = field(default_factory=deque)
    recent: deque[CallSample] = field(default_factory=lambda: deque(maxlen=HISTORY_SIZE))
    talks: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_SIZE))
    hourly: dict[int, list[int]] = field(default_factory=dict)  # hour -> [dialled, human answered, abandoned]
    line_ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.agents = [_Agent(i) for i in range(self.scenario.agents)]
        tta, talk = LogNormal.from_mean_sd(*self.scenario.time_to_answer), LogNormal.from_mean_sd(*self.scenario.talk)
        self.tta: tuple[float, float] = (tta.mu, tta.sigma)
        self.talk: tuple[float, float] = (talk.mu, talk.sigma)
        self.result.agents = self.scenario.agents

    # -- events ----------------------------------------------------------------------------------------------

    def at(self, when: float, kind: _Kind, subject: object) -> None:
        heapq.heappush(self.events, (when, next(self.order), kind, subject))

    def run_until(self, until: float) -> None:
        while self.events and self.events[0][0] <= until:
            when, _, kind, subject = heapq.heappop(self.events)
            self.now = when
            if kind is _Kind.HUMAN:
                self.human_answer(subject)  # type: ignore[arg-type]
            elif kind is _Kind.ENDED:
                self.line_ended(subject)  # type: ignore[arg-type]
            elif kind is _Kind.ABANDON:
                self.maybe_abandon(subject)  # type: ignore[arg-type]
            elif kind is _Kind.TALK_END:
                self.talk_end(subject)  # type: ignore[arg-type]
            else:
                self.wrap_end(subject)  # type: ignore[arg-type]
        self.now = until

    def bucket(self, when: float) -> list[int]:
        return self.hourly.setdefault(int(when // 3600), [0, 0, 0])

    def sample(self, line: _Line, *, human: bool, abandoned: bool = False) -> None:
        ring = (line.answered_at if line.answered_at is not None else self.now) - line.dialled_at
        self.recent.append(CallSample(EPOCH + timedelta(seconds=self.now), ring, human=human, abandoned=abandoned))

    def dial(self) -> None:
        scenario, rng = self.scenario, self.rng
        line_id = next(self.line_ids)
        line = _Line(self.now)
        self.lines[line_id] = line
        self.result.dials += 1
        self.bucket(self.now)[0] += 1
        draw = rng.random()
        human = scenario.human_answer_at(self.now / 3600.0)
        if draw < human:
            ring = rng.lognormvariate(*self.tta)
            if ring < scenario.ring_timeout_seconds:
                self.at(self.now + ring, _Kind.HUMAN, line_id)
                return
            self.at(self.now + scenario.ring_timeout_seconds, _Kind.ENDED, line_id)
        elif draw < human + scenario.busy:
            self.at(self.now + rng.uniform(*scenario.busy_seconds), _Kind.ENDED, line_id)
        elif draw < human + scenario.busy + scenario.fast_failure:
            self.at(self.now + rng.uniform(*scenario.fast_failure_seconds), _Kind.ENDED, line_id)
        else:
            self.at(self.now + scenario.ring_timeout_seconds, _Kind.ENDED, line_id)

    def line_ended(self, line_id: int) -> None:
        line = self.lines.pop(line_id)
        self.sample(line, human=False)

    def human_answer(self, line_id: int) -> None:
        line = self.lines[line_id]
        line.answered_at = self.now
        self.result.human_answers += 1
        self.bucket(self.now)[1] += 1
        agent = self.free_agent()
        if agent is not None:
            self.connect(line_id, agent)
        else:
            self.waiting.append(line_id)
            self.at(self.now + self.scenario.abandon_after_seconds, _Kind.ABANDON, line_id)

    def maybe_abandon(self, line_id: int) -> None:
        line = self.lines.get(line_id)
        if line is None or line.done:
            return
        self.waiting.remove(line_id)
        del self.lines[line_id]
        self.result.abandoned += 1
        self.bucket(self.now)[2] += 1
        self.sample(line, human=True, abandoned=True)
        self.watch_rate()

    def free_agent(self) -> _Agent | None:
        best: _Agent | None = None
        for agent in self.agents:
            if agent.state is None and not agent.away and (best is None or agent.since < best.since):
                best = agent
        return best

    def connect(self, line_id: int, agent: _Agent) -> None:
        line = self.lines.pop(line_id)
        line.done = True
        talk = self.rng.lognormvariate(*self.talk)
        agent.state, agent.since = AgentPhase.on_call, self.now
        self.result.connects += 1
        self.sample(line, human=True)
        end = self.now + talk
        self.result.talk_seconds += max(0.0, min(end, self.scenario.hours * 3600.0) - self.now)
        self.at(end, _Kind.TALK_END, (agent.index, line, talk))
        self.watch_rate()

    def talk_end(self, subject: tuple[int, _Line, float]) -> None:
        index, _, talk = subject
        agent = self.agents[index]
        agent.state, agent.since = AgentPhase.wrap_up, self.now
        self.talks.append(talk)
        self.at(self.now + self.scenario.wrap_up_seconds, _Kind.WRAP_END, index)

    def wrap_end(self, index: int) -> None:
        agent = self.agents[index]
        agent.state, agent.since = None, self.now
        agent.away = self.scenario.on_break(self.now / 3600.0)
        if agent.away:
            return
        while self.waiting:
            line_id = self.waiting.popleft()
            if line_id in self.lines:
                self.connect(line_id, agent)
                return

    def watch_rate(self) -> None:
        """The rolling 24 h abandon rate after each answer's fate, once warmed up."""
        _, answered, abandoned = self.rolling()
        if answered >= WARM_UP_ANSWERS:
            rate = 100.0 * abandoned / answered
            self.result.max_rolling_abandon_rate = max(self.result.max_rolling_abandon_rate, rate)

    def rolling(self) -> tuple[int, int, int]:
        hour = int(self.now // 3600)
        totals = [0, 0, 0]
        for key in range(hour - 23, hour + 1):
            counts = self.hourly.get(key)
            if counts is not None:
                totals = [a + b for a, b in zip(totals, counts, strict=True)]
        return totals[0], totals[1], totals[2]

    # -- pacing ----------------------------------------------------------------------------------------------

    def follow_breaks(self) -> None:
        """Idle agents go on a break when one starts and come back when it ends (busy ones at their wrap-up's
        end)."""
        on_break = self.scenario.on_break(self.now / 3600.0)
        for agent in self.agents:
            if agent.state is None:
                agent.away = on_break

    def snapshot(self) -> PacingSnapshot:
        agents = []
        for agent in self.agents:
            if agent.state is not None:
                activity = AgentActivity.busy
            else:
                activity = AgentActivity.away if agent.away else AgentActivity.available
            agents.append(AgentSnapshot(activity, self.now - agent.since, agent.state))
        lines = tuple(
            LineSnapshot(self.now - line.dialled_at, answered=line.answered_at is not None)
            for line in self.lines.values()
        )
        dialled, answered, abandoned = self.rolling()
        scenario = self.scenario
        return PacingSnapshot(
            now=EPOCH + timedelta(seconds=self.now),
            agents=tuple(agents),
            lines=lines,
            dial_ratio=scenario.dial_ratio,
            abandon_rate_target=scenario.abandon_rate_target,
            history=CampaignHistory(dialled, answered, abandoned, tuple(self.recent), tuple(self.talks)),
            wrap_up_seconds=scenario.wrap_up_seconds,
            ring_timeout_seconds=scenario.ring_timeout_seconds,
            abandon_after_seconds=scenario.abandon_after_seconds,
        )

    def run(self) -> Result:
        end = self.scenario.hours * 3600.0
        tick = self.scenario.tick_seconds
        steps = int(end / tick)
        for step in range(steps):
            self.run_until(step * tick)
            self.follow_breaks()
            snapshot = self.snapshot()
            lines = self.pacer.decide(snapshot).lines
            self.result.decisions += 1
            if lines and not any(a.activity in (AgentActivity.available, AgentActivity.busy) for a in snapshot.agents):
                self.result.dials_without_agent += lines
            for _ in range(lines):
                self.dial()
            if self.deadline is not None and step % 64 == 0 and time.monotonic() > self.deadline:
                self.result.completed = False
                self.result.seconds = self.now
                self.result.talk_seconds = self.talk_until(self.now, end)
                return self.result
        self.run_until(end)
        self.result.seconds = end
        return self.result

    def talk_until(self, until: float, end: float) -> float:
        """Talk time clipped at `until` (a run cut short counts only what was simulated; talks were counted up
        to `end` when they started)."""
        clipped = 0.0
        for when, _, kind, subject in self.events:
            if kind is _Kind.TALK_END:
                if not isinstance(subject, tuple):
                    raise TypeError(f"a TALK_END event carries (agent, line, talk seconds), not {subject!r}")
                duration = float(subject[2])
                clipped += max(0.0, min(when, end) - max(until, when - duration))
        return max(0.0, self.result.talk_seconds - clipped)


def simulate(scenario: Scenario, pacer: Pacer, seed: int, *, budget_seconds: float | None = None) -> Result:
    """Run `scenario` with `pacer` from an idle floor; stop early (`completed` False) past the CPU budget."""
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    return _Floor(scenario, pacer, random.Random(seed), deadline).run()  # noqa: S311 - a seeded simulation, not a secret
