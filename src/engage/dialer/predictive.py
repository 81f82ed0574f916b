"""Predictive pacing: dial so that answered calls meet free agents, with the abandon rate held to its target.

Pure, like the other pacers: the snapshot carries the time, the agents, the lines in flight and the history.
`docs/pacing.md` gives the maths; in short, each decision

1. estimates from the campaign's recent calls (with priors while there are few): the probability `p` that a
   dial is answered by a person, the time-to-answer of those answers and the talk time (both log-normal,
   fitted on their logs), and how long the other outcomes ring before they end (empirical);
2. looks at the moments when a new line would be answered (five quantiles of the time-to-answer) and, at
   each, compares the agents that will be free by then (available now, plus each busy agent's chance of
   being free, from the time it has talked or wrapped up so far) with the callers that will want one (those
   waiting now, each ringing line's chance of being answered by then, the other new lines');
3. starts the lines that cannot be abandoned (one per available agent beyond the lines out: never fewer
   than progressive), then the largest number whose last one would meet no free agent with a probability
   at most `threshold` — the normal approximation of the sums of those chances;
4. sets `threshold` by feedback on the rolling-24 h abandon budget: the abandons the campaign can still
   take before SET_POINT x target of its human answers, less a reserve for a burst. No budget (a young
   campaign, or one near its target): threshold 0, progressive. A growing budget: up to twice the target.
   A burst of abandons in the last ten minutes cuts it to a quarter.

The object memoises its estimates for the history it was last given, and the per-second chances it derives
from them; a decision with unchanged history costs well under a millisecond for 200 agents and 400 lines.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from .pacing import AgentActivity, AgentPhase, CampaignHistory, PacingDecision, PacingSnapshot

# Priors, worth a few calls each, so that the first decisions are sane and cautious: a quarter of dials
# answered, answers after ~10 s, two-minute talks; non-answers ring out.
PRIOR_ANSWER_RATE = 0.35
PRIOR_DIALS = 20.0
ANSWER_RATE_CAUTION = 1.0
PRIOR_TIME_TO_ANSWER = (10.0, 6.0)
PRIOR_TALK = (240.0, 120.0)
PRIOR_SAMPLES = 10.0
# The feedback: the rate aimed at, as a share of the target; the abandons kept in reserve; the budget at
# which the threshold is the target; the window and size of a burst; the floor of the threshold.
SET_POINT = 0.85
RESERVE = 2.0
BUDGET_SCALE = 4.0
HEADROOM = 1.0  # the threshold reaches at most (1 + HEADROOM) x target
BURST_WINDOW = timedelta(minutes=10)
BURST_MIN_ABANDONS = 3
BURST_FACTOR = 2.0
BURST_CUT = 0.25
FLOOR = 0.0
# The moments a new line would be answered: these quantiles of the time-to-answer, equally weighted.
QUANTILE_Z = (-1.2816, -0.5244, 0.0, 0.5244, 1.2816)  # 10 %, 30 %, 50 %, 70 %, 90 %
# At most this many new lines per agent at work (available or busy) in one decision.
MAX_LINES_PER_AGENT = 3


@dataclass(frozen=True, slots=True)
class LogNormal:
    mu: float
    sigma: float

    @classmethod
    def from_mean_sd(cls, mean: float, sd: float) -> LogNormal:
        variance = math.log(1.0 + (sd / mean) ** 2)
        return cls(math.log(mean) - variance / 2.0, math.sqrt(variance))

    @classmethod
    def fit(cls, values: list[float], prior: tuple[float, float], prior_weight: float) -> LogNormal:
        """Moments of the logs, pooled with the prior's as if it were `prior_weight` observations."""
        base = cls.from_mean_sd(*prior)
        logs = [math.log(max(value, 0.1)) for value in values]
        weight = prior_weight + len(logs)
        mu = (prior_weight * base.mu + sum(logs)) / weight
        second = (prior_weight * (base.sigma**2 + base.mu**2) + sum(x * x for x in logs)) / weight
        return cls(mu, math.sqrt(max(second - mu * mu, 1e-4)))

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2.0)

    def survival(self, x: float) -> float:
        """P(X > x)."""
        if x <= 0.0:
            return 1.0
        return 0.5 * math.erfc((math.log(x) - self.mu) / (self.sigma * math.sqrt(2.0)))

    def quantile(self, z: float) -> float:
        return math.exp(self.mu + self.sigma * z)


@dataclass(frozen=True, slots=True)
class Estimates:
    """What the campaign's recent calls say (priors blended in while they are few)."""

    samples: int
    answer_rate: float  # the posterior mean plus one posterior sd: what pacing plans with
    answer_rate_mean: float  # the posterior mean: what a simulation of the campaign's callees draws with
    time_to_answer: LogNormal
    talk: LogNormal
    # Ring durations of dials that ended without a person answering, sorted (with a prior few ringing out).
    other_rings: tuple[float, ...]

    @classmethod
    def from_history(cls, history: CampaignHistory, ring_timeout: float) -> Estimates:
        recent = history.recent
        humans = [s.ring_seconds for s in recent if s.human]
        others = sorted([s.ring_seconds for s in recent if not s.human] + [ring_timeout] * int(PRIOR_SAMPLES // 2))
        # The posterior mean of a beta prior worth PRIOR_DIALS dials, plus one posterior standard deviation:
        # more answers than expected is what abandons a caller, so the uncertainty counts against dialling.
        weight = PRIOR_DIALS + len(recent)
        mean = (PRIOR_ANSWER_RATE * PRIOR_DIALS + len(humans)) / weight
        rate = min(1.0, mean + ANSWER_RATE_CAUTION * math.sqrt(mean * (1.0 - mean) / (weight + 1.0)))
        return cls(
            samples=len(recent),
            answer_rate=rate,
            answer_rate_mean=mean,
            time_to_answer=LogNormal.fit(humans, PRIOR_TIME_TO_ANSWER, PRIOR_SAMPLES),
            talk=LogNormal.fit(list(history.talks), PRIOR_TALK, PRIOR_SAMPLES),
            other_rings=tuple(others),
        )

    def others_still_ringing(self, seconds: float) -> float:
        """P(ring > seconds) for a dial that does not reach a person."""
        return (len(self.other_rings) - bisect_right(self.other_rings, seconds)) / len(self.other_rings)


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@dataclass(frozen=True, slots=True)
class Feedback:
    """The threshold on the last line's chance of meeting no agent, from the measured abandon rate."""

    measured: float  # fraction, the prior blended in
    recent_abandons: int
    recent_answers: int
    threshold: float
    burst: bool

    @classmethod
    def of(cls, history: CampaignHistory, snapshot: PacingSnapshot) -> Feedback:
        target = snapshot.abandon_rate_target / 100.0
        measured = 0.0 if history.answered == 0 else history.abandoned / history.answered
        # The abandons the rolling window can still take before the target, less a reserve for a burst: the
        # threshold grows with that budget, so a young campaign (few answers) dials almost progressively and
        # one near its target almost stops overdialling.
        budget = SET_POINT * target * history.answered - history.abandoned - RESERVE
        threshold = target * min(1.0 + HEADROOM, max(FLOOR, budget / BUDGET_SCALE))
        since = snapshot.now - BURST_WINDOW
        abandons = answers = 0
        for sample in reversed(history.recent):
            if sample.at < since:
                break
            abandons += sample.abandoned
            answers += sample.human
        burst = abandons >= BURST_MIN_ABANDONS and abandons > BURST_FACTOR * target * max(answers, 1)
        if burst:
            threshold *= BURST_CUT
        return cls(measured, abandons, answers, threshold, burst)


class PredictivePacer:
    """The predictive model (module docstring). One per campaign: it memoises per history."""

    def __init__(self) -> None:
        self._history_key: object = None
        self._estimates: Estimates | None = None
        self._horizons: tuple[float, ...] = ()
        self._answer_within: tuple[float, ...] = ()
        self._line_cache: dict[int, tuple[float, ...]] = {}
        self._talk_cache: dict[int, float] = {}
        self._wrap_up = -1.0

    def estimates(self, snapshot: PacingSnapshot) -> Estimates:
        history = snapshot.history
        key = (
            len(history.recent),
            history.recent[-1] if history.recent else None,
            len(history.talks),
            history.talks[-1] if history.talks else None,
            snapshot.ring_timeout_seconds,
        )
        if key != self._history_key or self._estimates is None:
            self._history_key = key
            estimates = Estimates.from_history(history, snapshot.ring_timeout_seconds)
            self._estimates = estimates
            self._horizons = tuple(estimates.time_to_answer.quantile(z) for z in QUANTILE_Z)
            # A new line: P(answered by a person within each horizon).
            self._answer_within = tuple(
                estimates.answer_rate * (1.0 - estimates.time_to_answer.survival(h)) for h in self._horizons
            )
            self._line_cache.clear()
            self._talk_cache.clear()
        return self._estimates

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        estimates = self.estimates(snapshot)
        feedback = Feedback.of(snapshot.history, snapshot)
        figures: dict[str, float | int | None] = {
            "samples": estimates.samples,
            "answer_rate": round(estimates.answer_rate, 4),
            "mean_time_to_answer_seconds": round(estimates.time_to_answer.mean, 1),
            "mean_talk_seconds": round(estimates.talk.mean, 1),
            "abandon_rate": None if snapshot.history.abandon_rate is None else round(snapshot.history.abandon_rate, 2),
            "abandon_rate_target": snapshot.abandon_rate_target,
            "threshold": round(100.0 * feedback.threshold, 3),
            "recent_abandons": feedback.recent_abandons,
        }
        working = sum(1 for a in snapshot.agents if a.activity in (AgentActivity.available, AgentActivity.busy))
        if snapshot.logged_in_agents == 0:
            return PacingDecision(0, "no agent of the campaign is logged in", figures)
        if working == 0:
            return PacingDecision(0, "every logged-in agent is away or not registered", figures)

        supply = self._supply(snapshot, estimates)
        demand = self._demand(snapshot, estimates)
        # Lines that cannot be abandoned: one per available agent beyond the lines already out (each of those
        # wants one agent at most). The normal approximation is crude for a handful of agents, so these are
        # started whatever it says: predictive never starts fewer lines than progressive would.
        certain = max(0, snapshot.available_agents - len(snapshot.lines))
        # Beyond them, the chance that the n-th new line meets no free agent grows with n: the largest n within
        # the threshold, by bisection.
        low, high = certain, max(certain, MAX_LINES_PER_AGENT * working)
        while low < high:
            middle = (low + high + 1) // 2
            if self._abandon_chance(middle, supply, demand) <= feedback.threshold:
                low = middle
            else:
                high = middle - 1
        figures["lines_in_flight"] = len(snapshot.lines)
        figures["agents_free_by_median_answer"] = round(supply[len(supply) // 2][0], 2)
        figures["callers_by_median_answer"] = round(demand[len(demand) // 2][0], 2)
        if low > certain:
            chance = self._abandon_chance(low, supply, demand)
            reason = (
                f"{low} line(s): the last meets no free agent with chance {100.0 * chance:.2f} % "
                f"<= threshold {100.0 * feedback.threshold:.2f} %"
            )
        else:
            chance = self._abandon_chance(low + 1, supply, demand)
            reason = (
                f"{low} line(s) for the free agents; one more would meet no free agent with chance "
                f"{100.0 * chance:.2f} % > threshold {100.0 * feedback.threshold:.2f} %"
            )
        if feedback.burst:
            reason += f"; backing off after {feedback.recent_abandons} abandons in 10 min"
        return PacingDecision(low, reason, figures)

    # -- supply and demand at each horizon -------------------------------------------------------------------

    def _supply(self, snapshot: PacingSnapshot, estimates: Estimates) -> list[tuple[float, float]]:
        """(mean, variance) of the agents free by each horizon (plus the abandon grace)."""
        if snapshot.wrap_up_seconds != self._wrap_up:
            self._wrap_up = snapshot.wrap_up_seconds
            self._talk_cache.clear()
        grace = snapshot.abandon_after_seconds
        available = 0
        on_call: Counter[int] = Counter()
        wrapping: list[float] = []
        for agent in snapshot.agents:
            if agent.activity is AgentActivity.available:
                available += 1
            elif agent.activity is AgentActivity.busy:
                if agent.phase is AgentPhase.wrap_up:
                    wrapping.append(max(0.0, snapshot.wrap_up_seconds - agent.seconds_in_state))
                elif agent.phase is AgentPhase.reserved:
                    on_call[0] += 1
                else:
                    on_call[int(agent.seconds_in_state)] += 1
        result = []
        for index, horizon in enumerate(self._horizons):
            within = horizon + grace
            mean = float(available) + sum(1.0 for left in wrapping if left <= within)
            variance = 0.0
            for elapsed, count in on_call.items():
                chance = self._free_within(estimates, elapsed, index, within, snapshot.wrap_up_seconds)
                mean += count * chance
                variance += count * chance * (1.0 - chance)
            result.append((mean, variance))
        return result

    def _free_within(self, estimates: Estimates, elapsed: int, index: int, within: float, wrap_up: float) -> float:
        key = elapsed * 8 + index
        cached = self._talk_cache.get(key)
        if cached is not None:
            return cached
        talk = estimates.talk
        alive = talk.survival(elapsed)
        if within <= wrap_up or alive < 1e-9:
            chance = 0.0
        else:
            chance = max(0.0, (alive - talk.survival(elapsed + within - wrap_up)) / alive)
        self._talk_cache[key] = chance
        return chance

    def _demand(self, snapshot: PacingSnapshot, estimates: Estimates) -> list[tuple[float, float]]:
        """(mean, variance) of the callers wanting an agent by each horizon, from lines already out."""
        waiting = 0
        ringing: Counter[int] = Counter()
        for line in snapshot.lines:
            if line.answered:
                waiting += 1
            else:
                ringing[int(line.seconds_ringing)] += 1
        means = [float(waiting)] * len(self._horizons)
        variances = [0.0] * len(self._horizons)
        for seconds, count in ringing.items():
            for index, chance in enumerate(self._line_chances(estimates, seconds)):
                means[index] += count * chance
                variances[index] += count * chance * (1.0 - chance)
        return list(zip(means, variances, strict=True))

    def _line_chances(self, estimates: Estimates, seconds: int) -> tuple[float, ...]:
        """For a line ringing `seconds`: P(a person answers it within each horizon)."""
        cached = self._line_cache.get(seconds)
        if cached is not None:
            return cached
        tta, p = estimates.time_to_answer, estimates.answer_rate
        human_left = p * tta.survival(seconds)
        pending = human_left + (1.0 - p) * estimates.others_still_ringing(seconds)
        if pending <= 0.0:
            chances = tuple(0.0 for _ in self._horizons)
        else:
            chances = tuple((human_left - p * tta.survival(seconds + h)) / pending for h in self._horizons)
        self._line_cache[seconds] = chances
        return chances

    def _abandon_chance(
        self, lines: int, supply: list[tuple[float, float]], demand: list[tuple[float, float]]
    ) -> float:
        """The chance that the `lines`-th new line, answered by a person, meets no free agent: averaged over
        the moments it may be answered, P(free agents - callers ahead of it < 1), normal approximation."""
        if lines <= 0:
            return 0.0
        total = 0.0
        for (s_mean, s_var), (d_mean, d_var), ahead in zip(supply, demand, self._answer_within, strict=True):
            others = (lines - 1) * ahead
            mean = s_mean - d_mean - others
            variance = s_var + d_var + (lines - 1) * ahead * (1.0 - ahead)
            if variance <= 1e-9:
                total += 0.0 if mean >= 1.0 else 1.0
            else:
                total += normal_cdf((0.5 - mean) / math.sqrt(variance))
        return total / len(supply)
