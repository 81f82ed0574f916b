"""How the worker logs a step that fails tick after tick (PostgreSQL down, say): the first failure with its
traceback, then one line a minute with how many failures it did not log, and a line when the step works again.
A traceback per step per tick buried the one line that said what was wrong, and the metric
(`engage_dialer_step_failures_total`) counts every failure anyway.

A step is its name and its context (a campaign's pacing is a step of its own per campaign); a failure of
another exception type than the one last logged is logged in full at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("engage.dialer")

# While a step keeps failing for the same reason, how often a line says so.
REPEAT_LOG_SECONDS = 60.0


@dataclass
class _Failing:
    error_type: str
    logged_at: float
    unlogged: int = 0
    failures: int = 1


class StepFailures:
    def __init__(self, loop_time: Callable[[], float]) -> None:
        self._loop_time = loop_time
        self._failing: dict[tuple[str, tuple[tuple[str, str], ...]], _Failing] = {}

    def failed(self, step: str, exc: BaseException, context: dict[str, str]) -> None:
        key = _key(step, context)
        error_type = type(exc).__name__
        error = f"{error_type}: {exc}"
        now = self._loop_time()
        failing = self._failing.get(key)
        if failing is None or failing.error_type != error_type:
            self._failing[key] = _Failing(error_type, now)
            log.error("dialer.step_failed", step=step, error=error, exc_info=exc, **context)
            return
        failing.failures += 1
        if now - failing.logged_at < REPEAT_LOG_SECONDS:
            failing.unlogged += 1
            return
        log.error(
            "dialer.step_still_failing", step=step, error=error, failures=failing.failures,
            not_logged=failing.unlogged, **context,
        )  # fmt: skip
        failing.logged_at, failing.unlogged = now, 0

    def succeeded(self, step: str, context: dict[str, str]) -> None:
        if not self._failing:
            return  # the usual case, once per switch event: nothing failing, nothing to build or look up
        failing = self._failing.pop(_key(step, context), None)
        if failing is not None:
            log.info("dialer.step_recovered", step=step, failures=failing.failures, **context)


def _key(step: str, context: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return step, tuple(sorted(context.items()))
