"""The predictive pacer's estimators and controller against hand-computed snapshots: pure, no I/O, no clock."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from engage.dialer.pacing import (
    AgentActivity,
    AgentPhase,
    AgentSnapshot,
    CallSample,
    CampaignHistory,
    LineSnapshot,
    PacingSnapshot,
    ProgressivePacer,
)
from engage.dialer.predictive import Estimates, Feedback, LogNormal, PredictivePacer

NOW = datetime(2026, 6, 14, 7, 0, tzinfo=UTC)
AVAILABLE = AgentSnapshot(AgentActivity.available, 5.0)
AWAY = AgentSnapshot(AgentActivity.away, 60.0)
OFFLINE = AgentSnapshot(AgentActivity.offline)


def on_call(seconds: float) -> AgentSnapshot:
    return AgentSnapshot(AgentActivity.busy, seconds, AgentPhase.on_call)


def wrapping(seconds: float) -> AgentSnapshot:
    return AgentSnapshot(AgentActivity.busy, seconds, AgentPhase.wrap_up)


def history(answered: int = 0, abandoned: int = 0, recent: tuple[CallSample, ...] = ()) -> CampaignHistory:
    return CampaignHistory(dialled=answered * 3, answered=answered, abandoned=abandoned, recent=recent)


def snapshot(*agents: AgentSnapshot, lines: tuple[LineSnapshot, ...] = (), **kwargs: object) -> PacingSnapshot:
    return PacingSnapshot(now=NOW, agents=agents, lines=lines, **kwargs)  # type: ignore[arg-type]


def samples(humans: int, others: int, ring: float = 10.0, other_ring: float = 30.0) -> tuple[CallSample, ...]:
    made = [CallSample(NOW - timedelta(hours=1), ring, human=True) for _ in range(humans)]
    made += [CallSample(NOW - timedelta(hours=1), other_ring) for _ in range(others)]
    return tuple(made)


class TestLogNormal:
    def test_mean_and_sd_round_trip_and_the_median_is_exp_mu(self) -> None:
        dist = LogNormal.from_mean_sd(180.0, 120.0)
        # sigma^2 = ln(1 + (120/180)^2) = ln(1.4444) = 0.36772; mu = ln 180 - sigma^2/2 = 5.192957 - 0.183862 = 5.009095
        assert dist.sigma == pytest.approx(math.sqrt(0.367725), rel=1e-4)
        assert dist.mu == pytest.approx(5.009095, rel=1e-6)
        assert dist.mean == pytest.approx(180.0)
        assert dist.survival(math.exp(dist.mu)) == pytest.approx(0.5)
        assert dist.survival(0.0) == 1.0

    def test_without_observations_the_fit_is_the_prior(self) -> None:
        assert LogNormal.fit([], (10.0, 6.0), 10.0).mean == pytest.approx(10.0)

    def test_observations_outweigh_the_prior_as_they_accumulate(self) -> None:
        # 990 talks of exactly 60 s and a prior worth 10 at mean 240: mu = (10 mu0 + 990 ln 60) / 1000
        prior = LogNormal.from_mean_sd(240.0, 120.0)
        fitted = LogNormal.fit([60.0] * 990, (240.0, 120.0), 10.0)
        assert fitted.mu == pytest.approx((10 * prior.mu + 990 * math.log(60.0)) / 1000)
        assert math.exp(fitted.mu) == pytest.approx(60.0, rel=0.02)


class TestEstimates:
    def test_a_new_campaign_uses_the_cautious_prior_answer_rate(self) -> None:
        estimates = Estimates.from_history(CampaignHistory(), 30.0)
        # beta prior worth 20 dials at 0.35, plus one posterior sd: 0.35 + sqrt(0.35 x 0.65 / 21)
        assert estimates.answer_rate == pytest.approx(0.35 + math.sqrt(0.35 * 0.65 / 21))
        assert estimates.samples == 0

    def test_the_answer_rate_follows_the_campaign_s_own_dials(self) -> None:
        estimates = Estimates.from_history(history(recent=samples(humans=20, others=60)), 30.0)
        # mean (7 + 20) / (20 + 80) = 0.27; sd sqrt(0.27 x 0.73 / 101)
        assert estimates.answer_rate == pytest.approx(0.27 + math.sqrt(0.27 * 0.73 / 101))

    def test_time_to_answer_comes_from_the_people_who_answered(self) -> None:
        estimates = Estimates.from_history(history(recent=samples(humans=400, others=0, ring=20.0)), 30.0)
        assert math.exp(estimates.time_to_answer.mu) == pytest.approx(20.0, rel=0.05)

    def test_other_outcomes_ring_as_observed_and_a_prior_few_ring_out(self) -> None:
        recent = samples(humans=0, others=5, other_ring=4.0)  # five busy signals after 4 s
        estimates = Estimates.from_history(history(recent=recent), 30.0)
        # five observed at 4 s, five prior at the 30 s ring timeout
        assert estimates.others_still_ringing(3.0) == 1.0
        assert estimates.others_still_ringing(5.0) == 0.5
        assert estimates.others_still_ringing(30.0) == 0.0


class TestFeedback:
    @pytest.mark.parametrize(
        ("answered", "abandoned", "threshold"),
        [
            # budget = 0.85 x 3 % x answered - abandoned - 2; threshold = 3 % x clamp(budget / 4, 0, 2)
            (0, 0, 0.0),  # a new campaign: no budget, progressive
            (1000, 10, 0.03 * 2.0),  # budget 13.5: at the ceiling
            (1000, 20, 0.03 * 3.5 / 4.0),  # budget 3.5
            (1000, 24, 0.0),  # budget -0.5: nothing beyond progressive
            (1000, 40, 0.0),  # over the target
        ],
    )
    def test_the_threshold_follows_the_abandon_budget(self, answered: int, abandoned: int, threshold: float) -> None:
        feedback = Feedback.of(history(answered, abandoned), snapshot(AVAILABLE))
        assert feedback.threshold == pytest.approx(threshold)
        assert not feedback.burst

    def test_a_burst_of_abandons_cuts_the_threshold_to_a_quarter(self) -> None:
        recent = tuple(CallSample(NOW - timedelta(minutes=2), 8.0, human=True, abandoned=True) for _ in range(4))
        recent += tuple(CallSample(NOW - timedelta(minutes=3), 9.0, human=True) for _ in range(26))
        feedback = Feedback.of(history(1000, 10, recent), snapshot(AVAILABLE))
        # 4 abandons of 30 answers in 10 min > 2 x 3 %: 6 % x 0.25
        assert feedback.burst
        assert feedback.threshold == pytest.approx(0.06 * 0.25)

    def test_abandons_older_than_the_window_are_no_burst(self) -> None:
        recent = tuple(CallSample(NOW - timedelta(minutes=11), 8.0, human=True, abandoned=True) for _ in range(4))
        assert not Feedback.of(history(1000, 10, recent), snapshot(AVAILABLE)).burst


class TestDecisions:
    def test_never_dials_when_no_agent_is_logged_in(self) -> None:
        decision = PredictivePacer().decide(snapshot(OFFLINE, OFFLINE, history=history(5000, 0)))
        assert (decision.lines, decision.reason) == (0, "no agent of the campaign is logged in")

    def test_never_dials_when_every_logged_in_agent_is_away(self) -> None:
        decision = PredictivePacer().decide(snapshot(AWAY, OFFLINE, history=history(5000, 0)))
        assert decision.lines == 0
        assert decision.reason == "every logged-in agent is away or not registered"

    def test_without_budget_it_dials_exactly_like_progressive(self) -> None:
        state = snapshot(AVAILABLE, AVAILABLE, AVAILABLE, on_call(170.0), lines=(LineSnapshot(2.0),))
        assert PredictivePacer().decide(state).lines == ProgressivePacer().decide(state).lines == 2

    def test_with_budget_it_dials_ahead_of_agents_about_to_free_up(self) -> None:
        # One agent one second from the end of wrap-up, nobody available: progressive waits, predictive
        # dials for the agent who will be free long before anyone answers.
        state = snapshot(wrapping(14.0), history=history(5000, 10))
        assert ProgressivePacer().decide(state).lines == 0
        assert PredictivePacer().decide(state).lines >= 1

    def test_an_agent_ten_seconds_into_a_call_is_not_counted_on(self) -> None:
        # Talk prior mean 240 s: P(free within ~20 s + 15 s wrap-up) is nil.
        assert PredictivePacer().decide(snapshot(on_call(10.0), history=history(5000, 10))).lines == 0

    def test_callers_waiting_and_lines_ringing_take_agents_first(self) -> None:
        pacer, budget = PredictivePacer(), history(5000, 10)
        free = pacer.decide(snapshot(*[AVAILABLE] * 5, history=budget)).lines
        ringing = pacer.decide(snapshot(*[AVAILABLE] * 5, lines=(LineSnapshot(3.0),) * 3, history=budget)).lines
        waiting = pacer.decide(snapshot(*[AVAILABLE] * 5, lines=(LineSnapshot(3.0, True),) * 3, history=budget)).lines
        assert free > ringing >= waiting
        assert waiting <= 2 + 3 * 5  # never more than the per-agent cap

    def test_more_budget_never_means_fewer_lines(self) -> None:
        agents = (*[AVAILABLE] * 4, *[on_call(s) for s in (30.0, 120.0, 200.0, 400.0)], wrapping(5.0))
        counts = [
            PredictivePacer().decide(snapshot(*agents, history=history(5000, abandoned))).lines
            for abandoned in (200, 120, 100, 80, 40, 0)
        ]
        assert counts == sorted(counts)
        assert counts[0] == 4
        assert counts[-1] > 4

    def test_predictive_never_starts_fewer_lines_than_progressive(self) -> None:
        rng = random.Random(3)
        for _ in range(200):
            agents = tuple(
                rng.choice([AVAILABLE, on_call(rng.uniform(0, 600)), wrapping(rng.uniform(0, 15)), AWAY])
                for _ in range(rng.randint(1, 12))
            )
            lines = tuple(LineSnapshot(rng.uniform(0, 30), rng.random() < 0.1) for _ in range(rng.randint(0, 8)))
            state = snapshot(*agents, lines=lines, history=history(rng.randint(0, 3000), rng.randint(0, 60)))
            assert PredictivePacer().decide(state).lines >= ProgressivePacer().decide(state).lines

    def test_the_decision_says_why_with_its_figures(self) -> None:
        decision = PredictivePacer().decide(snapshot(*[AVAILABLE] * 3, history=history(1000, 20)))
        assert decision.lines >= 3
        assert "threshold" in decision.reason
        assert decision.figures["abandon_rate"] == 2.0
        assert decision.figures["abandon_rate_target"] == 3.0
        assert decision.figures["samples"] == 0
        assert decision.figures["mean_talk_seconds"] == pytest.approx(240.0)

    def test_same_snapshots_in_the_same_order_give_the_same_answers(self) -> None:
        states = [snapshot(*[AVAILABLE] * n, on_call(60.0 * n), history=history(2000, 20)) for n in range(6)]
        first, second = PredictivePacer(), PredictivePacer()
        assert [first.decide(s).lines for s in states] == [second.decide(s).lines for s in states]
