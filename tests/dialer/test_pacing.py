"""The pacers of the three modes against hand-computed snapshots: pure, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engage.dialer.pacing import (
    AgentActivity,
    AgentSnapshot,
    LineSnapshot,
    PacingModeUnavailable,
    PacingSnapshot,
    PowerPacer,
    PreviewPacer,
    ProgressivePacer,
    pacer_for,
)

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
        assert ProgressivePacer().lines_to_start(snapshot(AVAILABLE, AVAILABLE, AVAILABLE, BUSY, AWAY)) == 3

    def test_lines_already_ringing_count_against_new_ones(self) -> None:
        assert ProgressivePacer().lines_to_start(snapshot(AVAILABLE, AVAILABLE, AVAILABLE, ringing=2)) == 1

    def test_a_callee_waiting_for_an_agent_counts_as_a_line(self) -> None:
        assert ProgressivePacer().lines_to_start(snapshot(AVAILABLE, AVAILABLE, ringing=1, waiting=1)) == 0

    def test_never_negative_when_more_lines_than_agents(self) -> None:
        assert ProgressivePacer().lines_to_start(snapshot(AVAILABLE, ringing=4)) == 0

    def test_no_line_without_an_available_agent(self) -> None:
        assert ProgressivePacer().lines_to_start(snapshot(BUSY, AWAY, OFFLINE)) == 0


class TestPower:
    def test_dial_ratio_lines_per_available_agent_rounded_down(self) -> None:
        # 3 available x 1.5 = 4.5 → 4
        assert PowerPacer().lines_to_start(snapshot(AVAILABLE, AVAILABLE, AVAILABLE, ratio=1.5)) == 4

    def test_ratio_times_agents_exact_product_is_not_lost_to_float_error(self) -> None:
        # 2 x 1.5 = 3 exactly; 10 x 1.1 = 11 (floating point gives 11.000000000000002 or 10.999...)
        assert PowerPacer().lines_to_start(snapshot(AVAILABLE, AVAILABLE, ratio=1.5)) == 3
        assert PowerPacer().lines_to_start(snapshot(*[AVAILABLE] * 10, ratio=1.1)) == 11

    def test_counts_available_agents_never_logged_in_ones(self) -> None:
        # 1 available, 3 busy or away: 1 x 2.0 = 2, not 4 x 2.0
        assert PowerPacer().lines_to_start(snapshot(AVAILABLE, BUSY, BUSY, AWAY, ratio=2.0)) == 2

    def test_lines_in_progress_are_subtracted(self) -> None:
        assert PowerPacer().lines_to_start(snapshot(AVAILABLE, AVAILABLE, ringing=3, ratio=2.0)) == 1

    def test_no_line_without_an_available_agent_whatever_the_ratio(self) -> None:
        assert PowerPacer().lines_to_start(snapshot(BUSY, BUSY, ratio=5.0)) == 0


class TestPreview:
    def test_never_starts_a_line_itself(self) -> None:
        assert PreviewPacer().lines_to_start(snapshot(AVAILABLE, AVAILABLE, ratio=3.0)) == 0


class TestSnapshotCounts:
    def test_logged_in_counts_every_state_but_offline(self) -> None:
        state = snapshot(AVAILABLE, BUSY, AWAY, OFFLINE)
        assert (state.available_agents, state.logged_in_agents) == (1, 3)


class TestPacerFor:
    @pytest.mark.parametrize(
        ("mode", "kind"), [("preview", PreviewPacer), ("progressive", ProgressivePacer), ("power", PowerPacer)]
    )
    def test_each_mode_has_its_pacer(self, mode: str, kind: type) -> None:
        assert isinstance(pacer_for(mode), kind)

    def test_predictive_has_no_pacer_in_this_release(self) -> None:
        with pytest.raises(PacingModeUnavailable):
            pacer_for("predictive")
