"""How a registry line becomes E.164: E.164 as is, international (`00…`) and national forms of the
jurisdiction, separators dropped; a number of another country, or no valid number, is refused."""

from __future__ import annotations

import pytest

from engage.registry.service import normalise

UAE_MOBILE = "+971501234567"
KSA_MOBILE = "+966512345678"


class TestNormalise:
    @pytest.mark.parametrize(
        "raw",
        ["+971501234567", "00971501234567", "0501234567", "050 123 4567", "(050) 123-4567", "+971 50-123-4567",
         "971501234567", "  +971501234567\r\n"],
    )  # fmt: skip
    def test_uae_numbers_in_e164_international_and_national_form_become_e164(self, raw: str) -> None:
        assert normalise(raw, "AE") == UAE_MOBILE

    @pytest.mark.parametrize(
        "raw", ["+966512345678", "00966512345678", "0512345678", "051 234 5678", "+966 51 234 5678", "966512345678"]
    )
    def test_ksa_numbers_in_e164_international_and_national_form_become_e164(self, raw: str) -> None:
        assert normalise(raw, "SA") == KSA_MOBILE

    @pytest.mark.parametrize(
        ("raw", "jurisdiction"), [(KSA_MOBILE, "AE"), ("00966512345678", "AE"), (UAE_MOBILE, "SA")]
    )
    def test_a_valid_number_of_another_country_is_refused(self, raw: str, jurisdiction: str) -> None:
        assert normalise(raw, jurisdiction) is None

    @pytest.mark.parametrize(
        "raw",
        # E.164-shaped but too short or no UAE number, too long, too short, a word, nothing.
        ["+97150123", "+9710000000", "+9715012345678901", "12345", "phone", "+", "", "   "],
    )
    def test_what_is_no_valid_number_of_the_jurisdiction_is_refused(self, raw: str) -> None:
        assert normalise(raw, "AE") is None
