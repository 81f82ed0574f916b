"""The floor simulation at a small size (simulated minutes to an hour, fixed seeds), with the pacers' invariants."""

from __future__ import annotations

from dataclasses import replace

from engage.dialer.modes import pacer_for
from engage.dialer.simulation import Scenario, simulate

SMALL = Scenario(agents=10, hours=0.25)


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    first = simulate(SMALL, pacer_for("predictive"), seed=1)
    again = simulate(SMALL, pacer_for("predictive"), seed=1)
    other = simulate(SMALL, pacer_for("predictive"), seed=2)
    assert (first.dials, first.connects, first.abandoned) == (again.dials, again.connects, again.abandoned)
    assert (first.dials, first.talk_seconds) != (other.dials, other.talk_seconds)


def test_no_pacer_dials_while_every_agent_is_on_a_break() -> None:
    scenario = replace(SMALL, hours=0.5, breaks=((0.1, 0.3),))
    for mode in ("progressive", "power", "predictive"):
        result = simulate(replace(scenario, dial_ratio=2.0), pacer_for(mode), seed=4)
        assert result.dials > 0, mode
        assert result.dials_without_agent == 0, mode


def test_progressive_never_abandons_when_agents_stay() -> None:
    result = simulate(SMALL, pacer_for("progressive"), seed=3)
    assert result.connects > 0
    assert result.abandoned == 0


def test_preview_never_dials() -> None:
    assert simulate(SMALL, pacer_for("preview"), seed=3).dials == 0


def test_predictive_holds_the_target_once_warmed_up_and_beats_progressive() -> None:
    scenario = Scenario(agents=20, hours=1.0)
    for seed in (11, 12):
        predictive = simulate(scenario, pacer_for("predictive"), seed=seed)
        progressive = simulate(scenario, pacer_for("progressive"), seed=seed)
        assert predictive.human_answers > 100
        assert predictive.abandon_rate <= scenario.abandon_rate_target
        assert predictive.max_rolling_abandon_rate <= scenario.abandon_rate_target
        assert predictive.occupancy > progressive.occupancy


def test_a_heavy_power_ratio_abandons_more_than_predictive() -> None:
    scenario = Scenario(agents=20, hours=0.75)
    power = simulate(replace(scenario, dial_ratio=3.0), pacer_for("power"), seed=5)
    predictive = simulate(scenario, pacer_for("predictive"), seed=5)
    assert power.abandon_rate > scenario.abandon_rate_target
    assert predictive.abandon_rate < power.abandon_rate


def test_a_time_budget_cuts_the_run_short_and_says_so() -> None:
    result = simulate(replace(SMALL, agents=200, hours=24.0), pacer_for("predictive"), seed=1, budget_seconds=0.2)
    assert not result.completed
    assert 0 < result.seconds < 24 * 3600
    assert 0.0 <= result.occupancy <= 1.0


def test_figures_are_consistent() -> None:
    result = simulate(SMALL, pacer_for("power"), seed=8)
    assert result.completed
    assert result.seconds == SMALL.hours * 3600
    assert result.connects + result.abandoned <= result.human_answers <= result.dials
    assert result.connects_per_hour == result.connects * 4
    assert 0.0 < result.occupancy < 1.0
