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
    number = parse_valid(raw, region)
    return e164_of(number) if number is not None else None


def parse_valid(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    """`raw` (as `to_e164` reads it) parsed, if it is a valid number; else None. For a caller that goes on to
    ask more of the number than its E.164 form (its country, its time zones), so it is parsed once."""
    text = raw.strip()
    if not text or len(text) > _MAX_INPUT_LENGTH:
        return None
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def e164_of(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164: str) -> str | None:
    """The ISO 3166-1 country a valid E.164 number belongs to."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
