"""The checks as pure functions (issue 4, "Done when": each jurisdiction's window edges, weekends, an Eid day, a
Ramadan night in KSA, a number whose time zone differs from the campaign's), and the rule data itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engage.compliance import checks
from engage.compliance.checks import CheckName, Facts, Outcome, Subject, evaluate
from engage.compliance.engine import CheckRequest, Unresolvable, resolve
from engage.compliance.models import DialAttempt
from engage.compliance.rules import DEFAULT, RuleBook, UnknownRuleSet, Window, parse, shipped
from engage.consents.models import Consent

BOOK = shipped()
DASH = "\u2013"  # the seed's reasons use an en dash
TODAY = date(2026, 11, 27)
NUMBERS = {"AE": "+971501234567", "SA": "+966551234567", "EG": "+201001234567", "JO": "+962791234567"}
ZONES = {"AE": "Asia/Dubai", "SA": "Asia/Riyadh", "EG": "Africa/Cairo", "JO": "Asia/Amman", "GB": "Europe/London"}
CLEAN = Facts(on_tenant_dnc=False, registry_loaded=True, on_registry=False, cli_owned=True)


def local(jurisdiction: str, day: date, at: str) -> datetime:
    """An instant given in the callee's local time."""
    hours, minutes, *seconds = (int(part) for part in at.split(":"))
    wall = datetime.combine(day, time(hours, minutes, seconds[0] if seconds else 0))
    return wall.replace(tzinfo=ZoneInfo(ZONES[jurisdiction])).astimezone(UTC)


def hours(jurisdiction: str, now: datetime, window: Window | None = None) -> checks.CheckResult:
    rules = BOOK.for_jurisdiction(jurisdiction, now.date())
    subject = Subject(
        phone=NUMBERS.get(jurisdiction, "+447911123456"),
        jurisdiction=jurisdiction,
        zone=ZoneInfo(ZONES[jurisdiction]),
        campaign_window=window,
    )
    return checks.calling_hours(rules, subject, now)


SUNDAY = date(2026, 11, 29)


class TestWindowEdges:
    @pytest.mark.parametrize(
        ("jurisdiction", "at", "expected"),
        [
            ("AE", "08:59:59", Outcome.failed),
            ("AE", "09:00:00", Outcome.passed),
            ("AE", "17:59:59", Outcome.passed),
            ("AE", "18:00:00", Outcome.failed),
            ("SA", "08:59:59", Outcome.failed),
            ("SA", "09:00:00", Outcome.passed),
            ("SA", "21:59:59", Outcome.passed),
            ("SA", "22:00:00", Outcome.failed),
            ("EG", "08:59:59", Outcome.failed),
            ("EG", "09:00:00", Outcome.passed),
            ("EG", "17:59:59", Outcome.passed),
            ("EG", "18:00:00", Outcome.failed),
            ("JO", "08:59:59", Outcome.failed),
            ("JO", "09:00:00", Outcome.passed),
            ("JO", "17:59:59", Outcome.passed),
            ("JO", "18:00:00", Outcome.failed),
            ("GB", "08:59:59", Outcome.failed),
            ("GB", "09:00:00", Outcome.passed),
            ("GB", "19:59:59", Outcome.passed),
            ("GB", "20:00:00", Outcome.failed),
        ],
    )
    def test_the_window_starts_at_its_first_second_and_ends_before_its_last(
        self, jurisdiction: str, at: str, expected: Outcome
    ) -> None:
        assert hours(jurisdiction, local(jurisdiction, SUNDAY, at)).outcome is expected

    def test_the_ae_reason_is_the_seeds(self) -> None:
        result = hours("AE", local("AE", SUNDAY, "18:00"))

        assert result.reason == f"Outside permitted calling hours for AE (09:00{DASH}18:00 Sun{DASH}Thu)."
        assert result.blocks


class TestWeekends:
    @pytest.mark.parametrize("jurisdiction", ["AE", "SA", "EG", "JO"])
    @pytest.mark.parametrize("day", [date(2026, 11, 27), date(2026, 11, 28)], ids=["friday", "saturday"])
    def test_friday_and_saturday_are_closed_in_the_gulf_and_levant(self, jurisdiction: str, day: date) -> None:
        assert hours(jurisdiction, local(jurisdiction, day, "11:00")).outcome is Outcome.failed

    @pytest.mark.parametrize("jurisdiction", ["AE", "SA", "EG", "JO"])
    def test_thursday_is_open(self, jurisdiction: str) -> None:
        assert hours(jurisdiction, local(jurisdiction, date(2026, 12, 3) + timedelta(days=7), "11:00")).outcome is (
            Outcome.passed
        )

    def test_the_default_rule_set_calls_every_day(self) -> None:
        assert hours("GB", local("GB", date(2026, 11, 28), "11:00")).outcome is Outcome.passed


class TestHolidays:
    def test_an_eid_day_is_closed_in_the_uae(self) -> None:
        result = hours("AE", local("AE", date(2027, 3, 10), "11:00"))  # a Wednesday

        assert result.outcome is Outcome.failed
        assert "Eid al-Fitr" in result.reason

    def test_an_eid_day_is_closed_in_saudi_arabia(self) -> None:
        result = hours("SA", local("SA", date(2027, 5, 17), "13:00"))  # Eid al-Adha, a Monday

        assert result.outcome is Outcome.failed
        assert "Eid al-Adha" in result.reason

    def test_uae_national_day_is_closed(self) -> None:
        assert "National Day" in hours("AE", local("AE", date(2026, 12, 2), "11:00")).reason

    def test_the_default_rule_set_uses_the_callees_own_calendar(self) -> None:
        assert hours("GB", local("GB", date(2026, 12, 25), "11:00")).outcome is Outcome.failed  # Christmas Day
        assert hours("GB", local("GB", date(2026, 12, 24), "11:00")).outcome is Outcome.passed

    def test_the_day_after_a_holiday_is_open(self) -> None:
        assert hours("AE", local("AE", date(2026, 12, 7), "11:00")).outcome is Outcome.passed  # a Monday


RAMADAN_MONDAY = date(2027, 2, 15)  # 1448-09-08


class TestRamadanInSaudiArabia:
    def test_a_ramadan_night_is_open_after_the_usual_close(self) -> None:
        assert hours("SA", local("SA", RAMADAN_MONDAY, "23:30")).outcome is Outcome.passed

    def test_after_midnight_in_ramadan_is_open_until_one(self) -> None:
        tuesday = RAMADAN_MONDAY + timedelta(days=1)

        assert hours("SA", local("SA", tuesday, "00:59:59")).outcome is Outcome.passed
        assert hours("SA", local("SA", tuesday, "01:00")).outcome is Outcome.failed

    def test_a_ramadan_morning_is_closed_until_noon(self) -> None:
        result = hours("SA", local("SA", RAMADAN_MONDAY, "11:59:59"))

        assert result.outcome is Outcome.failed
        assert result.reason == f"Outside permitted Ramadan calling hours for SA (12:00{DASH}01:00)."
        assert hours("SA", local("SA", RAMADAN_MONDAY, "12:00")).outcome is Outcome.passed

    def test_the_same_hour_outside_ramadan_follows_the_usual_window(self) -> None:
        assert hours("SA", local("SA", SUNDAY, "23:30")).outcome is Outcome.failed
        assert hours("SA", local("SA", SUNDAY, "10:00")).outcome is Outcome.passed

    def test_ramadan_does_not_change_the_uae_window(self) -> None:
        assert hours("AE", local("AE", RAMADAN_MONDAY, "23:30")).outcome is Outcome.failed


class TestCampaignWindow:
    def test_a_campaign_window_narrows_the_legal_one(self) -> None:
        window = Window(start=time(10), end=time(16))

        early = hours("AE", local("AE", SUNDAY, "09:30"), window)

        assert early.outcome is Outcome.failed
        assert f"campaign's calling window (10:00{DASH}16:00" in early.reason
        assert hours("AE", local("AE", SUNDAY, "10:00"), window).outcome is Outcome.passed

    def test_a_campaign_window_never_widens_the_legal_one(self) -> None:
        window = Window(start=time(7), end=time(23))

        assert hours("AE", local("AE", SUNDAY, "08:00"), window).outcome is Outcome.failed
        assert hours("AE", local("AE", SUNDAY, "19:00"), window).outcome is Outcome.failed


class TestCalleeTimeZone:
    def test_a_saudi_number_is_judged_in_riyadh_time_whatever_the_campaigns_zone(self) -> None:
        # 22:30 in Dubai (a campaign's Asia/Dubai) is 21:30 in Riyadh: inside SA's window.
        now = datetime(2026, 11, 29, 22, 30, tzinfo=ZoneInfo("Asia/Dubai"))
        jurisdiction, zone, rules = resolve(CheckRequest(phone=NUMBERS["SA"]), BOOK, now)

        result = checks.calling_hours(rules, Subject(NUMBERS["SA"], jurisdiction, zone), now)

        assert (jurisdiction, zone.key) == ("SA", "Asia/Riyadh")
        assert result.outcome is Outcome.passed
        later = now + timedelta(minutes=30)  # 22:00 in Riyadh
        assert checks.calling_hours(rules, Subject(NUMBERS["SA"], jurisdiction, zone), later).outcome is Outcome.failed

    def test_a_given_jurisdiction_overrides_the_numbers_country(self) -> None:
        jurisdiction, _, rules = resolve(
            CheckRequest(phone=NUMBERS["AE"], jurisdiction="SA"), BOOK, local("AE", SUNDAY, "10:00")
        )

        assert (jurisdiction, rules.jurisdiction) == ("SA", "SA")

    def test_a_country_without_a_rule_set_gets_the_default_with_its_code(self) -> None:
        jurisdiction, zone, rules = resolve(CheckRequest(phone="+12125551234"), BOOK, local("AE", SUNDAY, "10:00"))

        assert (jurisdiction, zone.key, rules.jurisdiction) == ("US", "America/New_York", "US")
        assert rules.calling_hours.blocking_reason == f"Outside permitted calling hours for US (09:00{DASH}20:00)."

    def test_an_invalid_number_cannot_be_resolved(self) -> None:
        with pytest.raises(Unresolvable):
            resolve(CheckRequest(phone="+97150"), BOOK, local("AE", SUNDAY, "10:00"))


def rules(jurisdiction: str) -> checks.RuleSet:
    return BOOK.for_jurisdiction(jurisdiction, TODAY)


NOW = local("AE", SUNDAY, "10:00")


def consent(
    scope: str = "marketing", *, days_ago: int = 10, expires_in: int | None = None, withdrawn_ago: int | None = None
) -> Consent:
    return Consent(
        scope=scope,
        granted_at=NOW - timedelta(days=days_ago),
        expires_at=NOW + timedelta(days=expires_in) if expires_in is not None else None,
        withdrawn_at=NOW - timedelta(days=withdrawn_ago) if withdrawn_ago is not None else None,
    )


class TestConsent:
    def test_saudi_arabia_requires_consent(self) -> None:
        result = checks.consent(rules("SA"), CLEAN, NOW)

        assert result.outcome is Outcome.failed
        assert "requires the callee's consent" in result.reason

    def test_a_recorded_consent_passes_in_saudi_arabia(self) -> None:
        facts = Facts(False, True, False, consents=[consent()])

        assert checks.consent(rules("SA"), facts, NOW).outcome is Outcome.passed

    def test_an_expired_consent_does_not_count(self) -> None:
        facts = Facts(False, True, False, consents=[consent(expires_in=0)])

        assert checks.consent(rules("SA"), facts, NOW).outcome is Outcome.failed

    def test_a_withdrawn_consent_blocks_even_where_consent_is_not_required(self) -> None:
        facts = Facts(False, True, False, consents=[consent(withdrawn_ago=1)])

        assert checks.consent(rules("SA"), facts, NOW).outcome is Outcome.failed
        assert checks.consent(rules("AE"), facts, NOW).outcome is Outcome.failed

    def test_consent_is_not_required_in_the_uae(self) -> None:
        assert checks.consent(rules("AE"), CLEAN, NOW).outcome is Outcome.passed


def attempt(hours_ago: float, *, answered: bool = False, disposition: str | None = None) -> DialAttempt:
    return DialAttempt(attempted_at=NOW - timedelta(hours=hours_ago), answered=answered, disposition=disposition)


class TestFrequencyCap:
    def cap(self, *attempts: DialAttempt) -> checks.CheckResult:
        subject = Subject(NUMBERS["AE"], "AE", ZoneInfo("Asia/Dubai"))
        return checks.frequency_cap(rules("AE"), subject, Facts(False, True, False, attempts=attempts), NOW)

    def test_an_unanswered_number_once_a_day(self) -> None:
        assert self.cap(attempt(0.5)).outcome is Outcome.failed
        # 10:00 in Dubai: an attempt 11 hours ago was yesterday evening, local time.
        assert self.cap(attempt(11)).outcome is Outcome.passed

    def test_an_unanswered_number_twice_a_week(self) -> None:
        assert self.cap(attempt(30), attempt(60)).outcome is Outcome.failed
        assert self.cap(attempt(30), attempt(24 * 8)).outcome is Outcome.passed

    def test_answered_calls_do_not_count(self) -> None:
        assert self.cap(attempt(0.5, answered=True), attempt(30, answered=True)).outcome is Outcome.passed

    def test_a_refusal_ends_calls_for_good(self) -> None:
        result = self.cap(attempt(24 * 300, answered=True, disposition="refused"))

        assert result.outcome is Outcome.failed
        assert "never again" in result.reason

    def test_only_rule_sets_that_enable_it_have_the_sixth_key(self) -> None:
        ae = evaluate(rules("AE"), Subject(NUMBERS["AE"], "AE", ZoneInfo("Asia/Dubai")), CLEAN, NOW)
        sa = evaluate(rules("SA"), Subject(NUMBERS["SA"], "SA", ZoneInfo("Asia/Riyadh")), CLEAN, NOW)

        assert CheckName.frequency_cap in ae.checks
        assert CheckName.frequency_cap not in sa.checks


class TestOtherChecksAndTheDecision:
    AE_SUBJECT = Subject(NUMBERS["AE"], "AE", ZoneInfo("Asia/Dubai"))

    def test_everything_clean_is_allowed_with_the_rule_version(self) -> None:
        verdict = evaluate(rules("AE"), self.AE_SUBJECT, CLEAN, NOW)

        assert verdict.allowed
        assert verdict.rule_version == "2026-06-01"
        assert {r.outcome for r in verdict.checks.values()} == {Outcome.passed}
        assert verdict.blocking_rule is None

    def test_a_registry_never_loaded_is_skipped_and_blocks_where_the_rule_set_says_so(self) -> None:
        facts = Facts(on_tenant_dnc=False, registry_loaded=False, on_registry=False, cli_owned=True)
        eg = Subject(NUMBERS["EG"], "EG", ZoneInfo("Africa/Cairo"))

        ae = evaluate(rules("AE"), self.AE_SUBJECT, facts, NOW)
        egypt = evaluate(rules("EG"), eg, facts, local("EG", SUNDAY, "10:00"))

        assert (ae.checks[CheckName.dnc_national].outcome, ae.checks[CheckName.dnc_national].reason) == (
            Outcome.skipped,
            "registry not loaded",
        )
        assert (ae.allowed, ae.blocking_rule) == (False, "dnc_national")
        assert egypt.checks[CheckName.dnc_national].outcome is Outcome.skipped
        assert egypt.allowed

    def test_a_number_on_the_registry_is_blocked(self) -> None:
        verdict = evaluate(rules("AE"), self.AE_SUBJECT, Facts(False, True, True, cli_owned=True), NOW)

        assert (verdict.allowed, verdict.blocking_rule) == (False, "dnc_national")
        assert "TDRA" in (verdict.blocking_reason or "")

    def test_a_number_on_the_tenant_list_is_blocked(self) -> None:
        verdict = evaluate(rules("AE"), self.AE_SUBJECT, Facts(True, True, False, cli_owned=True), NOW)

        assert (verdict.allowed, verdict.blocking_rule) == (False, "dnc_tenant")

    def test_a_caller_id_the_tenant_does_not_own_is_blocked(self) -> None:
        verdict = evaluate(rules("AE"), self.AE_SUBJECT, Facts(False, True, False, cli_owned=False), NOW)

        assert (verdict.allowed, verdict.blocking_rule) == (False, "cli_ownership")

    def test_no_caller_id_to_check_is_skipped_without_blocking(self) -> None:
        verdict = evaluate(rules("AE"), self.AE_SUBJECT, Facts(False, True, False, cli_owned=None), NOW)

        assert verdict.checks[CheckName.cli_ownership].outcome is Outcome.skipped
        assert verdict.allowed

    def test_the_first_blocking_check_in_the_seeds_order_is_the_blocking_rule(self) -> None:
        facts = Facts(on_tenant_dnc=True, registry_loaded=True, on_registry=True, cli_owned=False)

        verdict = evaluate(rules("AE"), self.AE_SUBJECT, facts, local("AE", SUNDAY, "20:00"))

        assert verdict.blocking_rule == "calling_hours"
        failed = {name for name, result in verdict.checks.items() if result.outcome is Outcome.failed}
        assert failed == {
            CheckName.calling_hours,
            CheckName.dnc_national,
            CheckName.dnc_tenant,
            CheckName.cli_ownership,
        }


class TestRuleData:
    def test_every_shipped_rule_set_names_its_sources(self) -> None:
        for rule_set in BOOK.current(TODAY):
            assert rule_set.source
            assert rule_set.calling_hours.source
            assert rule_set.holidays.source
            assert rule_set.registry.source
            assert rule_set.consent.source

    def test_the_jurisdictions_shipped(self) -> None:
        shipped_sets = {r.jurisdiction: r for r in BOOK.current(TODAY)}

        assert set(shipped_sets) == {"AE", "SA", "EG", "JO", DEFAULT}
        assert shipped_sets["AE"].rule_version == "2026-06-01"
        assert (shipped_sets["EG"].confirmed, shipped_sets["JO"].confirmed) == (False, False)
        assert shipped_sets["SA"].consent.required
        assert shipped_sets["AE"].frequency is not None

    def test_the_version_in_effect_is_the_latest_not_after_the_date(self) -> None:
        base = (BOOK.current(TODAY)[0]).model_dump(mode="json")
        newer = parse(
            "\n".join(
                [
                    'jurisdiction = "AE"',
                    'rule_version = "2027-01-01"',
                    "effective_from = 2027-01-01",
                    "confirmed = true",
                    'source = "test"',
                    "[calling_hours]",
                    'windows = [{ start = "10:00", end = "17:00" }]',
                    'days = ["mon"]',
                    'blocking_reason = "x"',
                    'source = "test"',
                    "[holidays]",
                    "calls_allowed = false",
                    'source = "test"',
                    "[registry]",
                    'name = "r"',
                    "blocks_when_not_loaded = true",
                    'source = "test"',
                    "[consent]",
                    "required = false",
                    'scope = "marketing"',
                    'source = "test"',
                ]
            )
        )
        book = RuleBook([*BOOK.current(TODAY), newer])

        assert book.for_jurisdiction("AE", date(2026, 12, 31)).rule_version == base["rule_version"]
        assert book.for_jurisdiction("AE", date(2027, 1, 1)).rule_version == "2027-01-01"
        with pytest.raises(UnknownRuleSet):
            book.for_jurisdiction("AE", date(2026, 5, 31))

    def test_a_malformed_rule_file_is_refused_at_load(self) -> None:
        with pytest.raises(ValueError, match="calling_hours"):
            parse(
                'jurisdiction = "AE"\nrule_version = "1"\neffective_from = 2026-01-01\nconfirmed = true\nsource = "x"'
            )

    def test_a_window_crossing_midnight(self) -> None:
        window = Window(start=time(12), end=time(1))

        assert [window.contains(time(h)) for h in (0, 1, 11, 12, 23)] == [True, False, False, True, True]
