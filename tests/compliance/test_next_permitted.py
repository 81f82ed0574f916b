"""`checks.next_permitted` as a pure function: when a contact blocked by the calling hours may next be called
(weekends, public holidays, Ramadan nights, campaign windows, DST jumps), and `evaluate` carrying it only
for a `calling_hours` denial."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engage.compliance import calendar
from engage.compliance.checks import Facts, Subject, evaluate, next_permitted
from engage.compliance.rules import RuleSet, Window, parse, shipped

BOOK = shipped()
ZONES = {"AE": "Asia/Dubai", "SA": "Asia/Riyadh", "GB": "Europe/London", "US": "America/New_York"}
NUMBERS = {"AE": "+971501234567", "SA": "+966551234567", "GB": "+447911123456", "US": "+12125551234"}
CLEAN = Facts(on_tenant_dnc=False, registry_loaded=True, on_registry=False, cli_owned=True)


def local(jurisdiction: str, day: date, at: str) -> datetime:
    """An instant given in the callee's local time."""
    hours, minutes = (int(part) for part in at.split(":"))
    return datetime.combine(day, time(hours, minutes), ZoneInfo(ZONES[jurisdiction])).astimezone(UTC)


def subject(jurisdiction: str, window: Window | None = None) -> Subject:
    return Subject(NUMBERS[jurisdiction], jurisdiction, ZoneInfo(ZONES[jurisdiction]), campaign_window=window)


def after(jurisdiction: str, now: datetime, window: Window | None = None) -> datetime | None:
    return next_permitted(BOOK.for_jurisdiction(jurisdiction, now.date()), subject(jurisdiction, window), now)


def us_rules(start: str, end: str) -> RuleSet:
    """A made-up US rule set with a night window, every day, holidays open: to put a window edge on a DST jump."""
    return parse(
        "\n".join(
            [
                'jurisdiction = "US"',
                'rule_version = "test"',
                "effective_from = 2026-01-01",
                "confirmed = false",
                'source = "test"',
                "[calling_hours]",
                f'windows = [{{ start = "{start}", end = "{end}" }}]',
                'days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]',
                'blocking_reason = "closed"',
                'source = "test"',
                "[holidays]",
                "calls_allowed = true",
                'source = "test"',
                "[registry]",
                'name = "r"',
                "blocks_when_not_loaded = false",
                'source = "test"',
                "[consent]",
                "required = false",
                'scope = "marketing"',
                'source = "test"',
            ]
        )
    )


SUNDAY = date(2026, 11, 29)
THURSDAY = date(2026, 11, 26)
RAMADAN_SATURDAY = date(2027, 2, 13)  # 1448-09-06


class TestNextPermittedInTheUae:
    def test_a_weekday_evening_is_rescheduled_to_the_next_mornings_window_start(self) -> None:
        result = after("AE", local("AE", SUNDAY, "19:00"))

        assert result == local("AE", SUNDAY + timedelta(days=1), "09:00")
        assert result is not None
        assert result.tzinfo is UTC

    def test_a_thursday_evening_skips_the_friday_saturday_weekend_to_sunday(self) -> None:
        rules = BOOK.for_jurisdiction("AE", THURSDAY)
        assert {"fri", "sat"}.isdisjoint(rules.calling_hours.days)

        assert after("AE", local("AE", THURSDAY, "18:30")) == local("AE", SUNDAY, "09:00")

    def test_public_holidays_are_skipped(self) -> None:
        tuesday = date(2026, 12, 1)
        # National Day on Wednesday and Thursday, then the weekend: next open is Sunday 6 December.
        assert calendar.holiday("AE", date(2026, 12, 2)) is not None
        assert calendar.holiday("AE", date(2026, 12, 3)) is not None

        assert after("AE", local("AE", tuesday, "18:00")) == local("AE", date(2026, 12, 6), "09:00")

    def test_before_the_window_it_is_todays_window_start(self) -> None:
        assert after("AE", local("AE", SUNDAY, "06:15")) == local("AE", SUNDAY, "09:00")

    def test_inside_the_window_the_answer_is_now(self) -> None:
        now = local("AE", SUNDAY, "10:00") + timedelta(seconds=1.5)

        assert after("AE", now) == now


class TestNextPermittedWithACampaignWindow:
    WINDOW = Window(start=time(10), end=time(17))

    def test_a_campaign_window_narrower_than_the_legal_one_opens_at_its_own_start(self) -> None:
        assert after("AE", local("AE", SUNDAY, "09:30"), self.WINDOW) == local("AE", SUNDAY, "10:00")

    def test_after_a_campaign_window_closes_it_is_the_next_days_campaign_start(self) -> None:
        # 17:30 is inside the legal hours (to 18:00) but after the campaign's.
        assert after("AE", local("AE", SUNDAY, "17:30"), self.WINDOW) == local("AE", date(2026, 11, 30), "10:00")

    def test_a_campaign_window_wider_than_the_legal_one_opens_at_the_legal_start(self) -> None:
        window = Window(start=time(7), end=time(23))

        assert after("AE", local("AE", SUNDAY, "07:30"), window) == local("AE", SUNDAY, "09:00")

    def test_a_campaign_window_outside_the_legal_hours_is_never_permitted(self) -> None:
        assert after("AE", local("AE", SUNDAY, "10:00"), Window(start=time(19), end=time(21))) is None


class TestNextPermittedInRamadan:
    def test_a_ramadan_morning_waits_for_the_noon_window(self) -> None:
        monday = RAMADAN_SATURDAY + timedelta(days=2)

        assert after("SA", local("SA", monday, "01:30")) == local("SA", monday, "12:00")

    def test_a_ramadan_window_crossing_midnight_opens_a_working_day_at_midnight(self) -> None:
        # Saturday is the weekend; on Sunday 00:00-01:00 lies in the 12:00-01:00 Ramadan window.
        sunday = RAMADAN_SATURDAY + timedelta(days=1)

        assert after("SA", local("SA", RAMADAN_SATURDAY, "23:00")) == local("SA", sunday, "00:00")


class TestNextPermittedAcrossDst:
    def test_the_window_start_is_read_in_the_callees_zone_after_the_clocks_go_forward(self) -> None:
        # Europe/London goes from GMT to BST early on Sunday 28 March 2027: 09:00 that day is 08:00 UTC.
        result = after("GB", local("GB", date(2027, 3, 27), "20:30"))

        assert result == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)

    def test_a_window_starting_in_the_skipped_hour_opens_when_the_clock_jumps(self) -> None:
        # New York skips 02:00-03:00 on 14 March 2027: a 02:30 window start opens at 03:00 EDT, 07:00 UTC.
        now = local("US", date(2027, 3, 14), "01:30")

        assert next_permitted(us_rules("02:30", "05:00"), subject("US"), now) == datetime(2027, 3, 14, 7, tzinfo=UTC)

    def test_a_window_reopens_when_the_clock_goes_back_into_it(self) -> None:
        # New York repeats 01:00-02:00 on 7 November 2027. At 01:45 EDT a 00:30-01:30 window is closed, and it
        # opens again at 06:00 UTC when the clock goes back to 01:00 EST.
        now = datetime(2027, 11, 7, 5, 45, tzinfo=UTC)

        assert next_permitted(us_rules("00:30", "01:30"), subject("US"), now) == datetime(2027, 11, 7, 6, tzinfo=UTC)


class TestTheVerdictCarriesIt:
    def test_only_a_calling_hours_denial_carries_next_permitted_at(self) -> None:
        rules = BOOK.for_jurisdiction("AE", SUNDAY)
        on_dnc = Facts(on_tenant_dnc=True, registry_loaded=True, on_registry=False, cli_owned=True)

        closed = evaluate(rules, subject("AE"), CLEAN, local("AE", SUNDAY, "19:00"))
        open_ = evaluate(rules, subject("AE"), CLEAN, local("AE", SUNDAY, "10:00"))
        blocked_otherwise = evaluate(rules, subject("AE"), on_dnc, local("AE", SUNDAY, "10:00"))

        assert (closed.blocking_rule, closed.next_permitted_at) == (
            "calling_hours",
            local("AE", SUNDAY, "09:00") + timedelta(days=1),
        )
        assert (open_.allowed, open_.next_permitted_at) == (True, None)
        assert (blocked_otherwise.blocking_rule, blocked_otherwise.next_permitted_at) == ("dnc_tenant", None)
