"""A worker step that fails tick after tick (PostgreSQL down) is logged in full once, then once a minute with a
count, and once more when it works again; another step, another campaign or another error is logged at once."""

from __future__ import annotations

from structlog.testing import capture_logs

from engage.dialer.step_failures import REPEAT_LOG_SECONDS, StepFailures


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def down() -> ConnectionRefusedError:
    return ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")


def test_a_step_failing_every_tick_logs_its_traceback_once_then_a_line_a_minute() -> None:
    clock = Clock()
    failures = StepFailures(clock)
    with capture_logs() as logs:
        for _ in range(int(REPEAT_LOG_SECONDS)):  # a minute of one-second ticks, the database down
            failures.failed("timers", down(), {})
            clock.now += 1.0
        failures.failed("timers", down(), {})
        clock.now += 1.0
        failures.failed("timers", down(), {})

    assert [entry["event"] for entry in logs] == ["dialer.step_failed", "dialer.step_still_failing"]
    first, again = logs
    assert first["exc_info"].__class__ is ConnectionRefusedError
    assert first["error"].startswith("ConnectionRefusedError: ")
    assert (first["step"], again["step"]) == ("timers", "timers")
    assert "exc_info" not in again
    assert (again["failures"], again["not_logged"]) == (REPEAT_LOG_SECONDS + 1, REPEAT_LOG_SECONDS - 1)


def test_the_step_working_again_is_logged_and_its_next_failure_is_logged_in_full() -> None:
    clock = Clock()
    failures = StepFailures(clock)
    with capture_logs() as logs:
        for _ in range(5):
            failures.failed("orphans", down(), {})
        failures.succeeded("orphans", {})
        failures.succeeded("orphans", {})  # working, and nothing to say about it
        failures.failed("orphans", down(), {})

    assert [entry["event"] for entry in logs] == ["dialer.step_failed", "dialer.step_recovered", "dialer.step_failed"]
    assert logs[1]["failures"] == 5


def test_other_steps_campaigns_and_errors_are_each_logged_at_once() -> None:
    failures = StepFailures(Clock())
    with capture_logs() as logs:
        failures.failed("campaign", down(), {"campaign_id": "a"})
        failures.failed("campaign", down(), {"campaign_id": "b"})
        failures.failed("campaign", down(), {"campaign_id": "a"})
        failures.failed("hangups", down(), {})
        failures.failed("hangups", TimeoutError("statement timeout"), {})

    assert [(entry["event"], entry["step"], entry.get("campaign_id")) for entry in logs] == [
        ("dialer.step_failed", "campaign", "a"),
        ("dialer.step_failed", "campaign", "b"),
        ("dialer.step_failed", "hangups", None),
        ("dialer.step_failed", "hangups", None),
    ]
    assert logs[-1]["error"] == "TimeoutError: statement timeout"
