"""Structured logs (STYLE.md rule 11): one JSON object a line, phone numbers and e-mail addresses masked,
secrets never written, whatever shape the caller passes them in."""

from __future__ import annotations

import logging

import pytest
import structlog

from engage.core.logging import mask_email, mask_phone

from .conftest import LogLines

PHONE = "+971501234567"
PASSWORD = "correct horse battery staple"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload.signature"


class TestMaskPhone:
    def test_keeps_country_prefix_and_last_two_digits_only(self) -> None:
        assert mask_phone(PHONE) == "+97150*****67"

    def test_national_number_without_plus_is_masked_too(self) -> None:
        assert mask_phone("0501234567") == "05012***67"

    def test_very_short_value_is_hidden_entirely(self) -> None:
        assert mask_phone("1234") == "****"

    def test_masked_form_never_contains_the_middle_digits(self) -> None:
        assert "1234" not in mask_phone(PHONE)


class TestMaskEmail:
    def test_keeps_the_first_letter_and_the_domain(self) -> None:
        assert mask_email("layla.ahmed@acme.com") == "l***@acme.com"

    def test_value_without_a_domain_is_hidden_entirely(self) -> None:
        assert mask_email("layla") == "***"


class TestLogProcessor:
    def test_lines_are_json_with_event_level_logger_timestamp_and_bound_context(self, log_lines: LogLines) -> None:
        structlog.contextvars.bind_contextvars(tenant_id="t-1")
        try:
            structlog.get_logger("engage.test").info("campaign.started", campaign_id="c-1")
        finally:
            structlog.contextvars.clear_contextvars()

        [line] = log_lines()
        assert line["event"] == "campaign.started"
        assert line["level"] == "info"
        assert line["logger"] == "engage.test"
        assert line["tenant_id"] == "t-1"
        assert line["campaign_id"] == "c-1"
        assert line["timestamp"].endswith("Z")

    def test_secret_and_phone_keys_never_reach_the_line_in_full(self, log_lines: LogLines) -> None:
        structlog.get_logger("engage.test").info(
            "auth.attempt",
            password=PASSWORD,
            refresh_token=TOKEN,
            authorization=f"Bearer {TOKEN}",
            phone=PHONE,
            email="layla.ahmed@acme.com",
        )

        [line] = log_lines()
        raw = str(line)
        assert PASSWORD not in raw
        assert TOKEN not in raw
        assert PHONE not in raw
        assert "layla.ahmed" not in raw
        assert line["password"] == line["refresh_token"] == line["authorization"] == "[masked]"
        assert line["phone"] == "+97150*****67"
        assert line["email"] == "l***@acme.com"

    @pytest.mark.parametrize(
        "fields",
        [
            {"payload": {"phone": PHONE, "password": PASSWORD}},
            {"phones": [PHONE, "+971509876543"]},
            {"destination": 971501234567},
            {"attempt": {"caller_id": PHONE, "legs": [{"destination": PHONE}]}},
            {"headers": {"Authorization": f"Bearer {PASSWORD}"}},
        ],
        ids=["nested-dict", "list-of-numbers", "int-number", "deeply-nested", "header-map"],
    )
    def test_values_nested_in_containers_or_passed_as_ints_are_masked_too(
        self, log_lines: LogLines, fields: dict[str, object]
    ) -> None:
        structlog.get_logger("engage.test").info("call.placed", **fields)

        [line] = log_lines()
        raw = str(line)
        assert "1234567" not in raw
        assert PASSWORD not in raw

    def test_small_counts_under_number_like_keys_stay_readable(self, log_lines: LogLines) -> None:
        structlog.get_logger("engage.test").info("call.retried", attempt_number=3, numbers_dialled=12)

        [line] = log_lines()
        assert (line["attempt_number"], line["numbers_dialled"]) == (3, 12)

    def test_ordinary_fields_are_left_alone(self, log_lines: LogLines) -> None:
        structlog.get_logger("engage.test").info("campaign.paused", campaign_id="c-1", reason="manual", active=True)

        [line] = log_lines()
        assert (line["campaign_id"], line["reason"], line["active"]) == ("c-1", "manual", True)

    def test_stdlib_loggers_go_through_the_same_masking_renderer(self, log_lines: LogLines) -> None:
        logging.getLogger("uvicorn.error").warning("listener ready")
        structlog.get_logger("engage.test").info("x", phone=PHONE)

        lines = log_lines()
        assert [line["event"] for line in lines] == ["listener ready", "x"]
        assert lines[0]["logger"] == "uvicorn.error"
        assert PHONE not in str(lines)
