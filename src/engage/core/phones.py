"""Phone numbers: parsed, validated and formatted with `phonenumbers`; stored as E.164.

A number in local format is read in the tenant's country (DESIGN.md §3). Invariant: `to_e164` returns a
valid number's E.164 form or None, never a guess.
"""

from __future__ import annotations

import phonenumbers

# Longer than any E.164 number (15 digits) written with spaces, dashes and a prefix; anything longer is junk
# and is refused before the parser spends time on it.
_MAX_INPUT_LENGTH = 40


def to_e164(raw: str, region: str) -> str | None:
    """`raw` in E.164, international (`00…`) or local format for `region` (ISO 3166-1 alpha-2) → E.164."""
    text = raw.strip()
    if not text or len(text) > _MAX_INPUT_LENGTH:
        return None
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164: str) -> str | None:
    """The ISO 3166-1 country a valid E.164 number belongs to."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
