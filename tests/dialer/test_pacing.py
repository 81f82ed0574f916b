"""The pacers of the three modes against hand-computed snapshots: pure, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engage.dialer.modes import pacer_for
from engage.dialer.pacing import (
    AgentActivity,
    AgentSnapshot,
    LineSnapshot,
    PacingSnapshot,
    PowerPacer,
    PreviewPacer,
    ProgressivePacer,
)
from engage.dialer.predictive import PredictivePacer

NOW = datetime(2026, 6, 14, 7, 0, tzinfo=UTC)
AVAILABLE = AgentSnapshot(AgentActivity.available, 12.0)
BUSY = AgentSnapshot(AgentActivity.busy, 40.0)
AWAY = AgentSnapshot(AgentActivity.away, 300.0)
OFFLINE = AgentSnapshot(AgentActivity.offline)


def snapshot(*agents: AgentSnapshot, ringing: int = 0, waiting: int = 0, ratio: float = 1.0) -> PacingSnapshot:
    lines = tuple(LineSnapshot(seconds_ringing=3.0) for _ in range(ringing)) + tuple(
        LineSnapshot(seconds_ringing=5.0, answered=True) for _ in range(waiting)
    )
    return PacingSnapshot(now=NOW, agents=agents, lines=lines, dial_ratio=ratio)


class TestProgressive:
    def test_one_line_per_available_agent(self) -> None:
        assert ProgressivePacer().decide(snapshot(AVAILABLE, AVAILABLE, AVAILABLE, BUSY, AWAY)).lines == 3

    def test_lines_already_ringing_count_against_new_ones(self) -> None:
        assert ProgressivePacer().decide(snapshot(AVAILABLE, AVAILABLE, AVAILABLE, ringing=2)).lines == 1

    def test_a_callee_waiting_for_an_agent_counts_as_a_line(self) -> None:
        assert ProgressivePacer().decide(snapshot(AVAILABLE, AVAILABLE, ringing=1, waiting=1)).lines == 0

    def test_never_negative_when_more_lines_than_agents(self) -> None:
        assert ProgressivePacer().decide(snapshot(AVAILABLE, ringing=4)).lines == 0

    def test_no_line_without_an_available_agent(self) -> None:
        assert ProgressivePacer().decide(snapshot(BUSY, AWAY, OFFLINE)).lines == 0


class TestPower:
    def test_dial_ratio_lines_per_available_agent_rounded_down(self) -> None:
        # 3 available x 1.5 = 4.5 → 4
        assert PowerPacer().decide(snapshot(AVAILABLE, AVAILABLE, AVAILABLE, ratio=1.5)).lines == 4

    def test_ratio_times_agents_exact_product_is_not_lost_to_float_error(self) -> None:
        # 2 x 1.5 = 3 exactly; 10 x 1.1 = 11 (floating point gives 11.000000000000002 or 10.999...)
        assert PowerPacer().decide(snapshot(AVAILABLE, AVAILABLE, ratio=1.5)).lines == 3
        assert PowerPacer().decide(snapshot(*[AVAILABLE] * 10, ratio=1.1)).lines == 11

    def test_counts_available_agents_never_logged_in_ones(self) -> None:
        # 1 available, 3 busy or away: 1 x 2.0 = 2, not 4 x 2.0
        assert PowerPacer().decide(snapshot(AVAILABLE, BUSY, BUSY, AWAY, ratio=2.0)).lines == 2

    def test_lines_in_progress_are_subtracted(self) -> None:
        assert PowerPacer().decide(snapshot(AVAILABLE, AVAILABLE, ringing=3, ratio=2.0)).lines == 1

    def test_no_line_without_an_available_agent_whatever_the_ratio(self) -> None:
        assert PowerPacer().decide(snapshot(BUSY, BUSY, ratio=5.0)).lines == 0


class TestPreview:
    def test_never_starts_a_line_itself(self) -> None:
        assert PreviewPacer().decide(snapshot(AVAILABLE, AVAILABLE, ratio=3.0)).lines == 0


class TestSnapshotCounts:
    def test_logged_in_counts_every_state_but_offline(self) -> None:
        state = snapshot(AVAILABLE, BUSY, AWAY, OFFLINE)
        assert (state.available_agents, state.logged_in_agents) == (1, 3)


class TestPacerFor:
    @pytest.mark.parametrize(
        ("mode", "kind"),
        [
            ("preview", PreviewPacer),
            ("progressive", ProgressivePacer),
            ("power", PowerPacer),
            ("predictive", PredictivePacer),
        ],
    )
    def test_each_mode_has_its_pacer(self, mode: str, kind: type) -> None:
        assert isinstance(pacer_for(mode), kind)

    def test_an_unknown_mode_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="no pacer"):
            pacer_for("psychic")


class TestReasons:
    def test_nobody_logged_in_is_said(self) -> None:
        decision = ProgressivePacer().decide(snapshot(OFFLINE))
        assert (decision.lines, decision.reason) == (0, "no agent of the campaign is logged in")

    def test_nobody_available_is_said(self) -> None:
        decision = PowerPacer().decide(snapshot(BUSY, AWAY, ratio=2.0))
        assert (decision.lines, decision.reason) == (0, "no agent is available and registered")

    def test_the_count_is_explained(self) -> None:
        decision = PowerPacer().decide(snapshot(AVAILABLE, AVAILABLE, ringing=1, ratio=1.5))
        assert decision.lines == 2
        assert decision.reason == "1.5 line(s) per available agent x 2, 1 line(s) already out"
