"""The base of every request and response schema, and the one check that request input can be stored.

Invariant: nothing a request carries reaches PostgreSQL unless PostgreSQL can hold it. `text` and `jsonb`
refuse NUL (U+0000), and UTF-8 has no encoding for an unpaired UTF-16 surrogate (JSON's `"\\ud800"` decodes
to one), so either made a 500 from the driver. JSON numbers decode to integers of any size and, in Python's
decoder, to `NaN` and `Infinity`, which no column holds. `StrictModel` checks every field of every request
body for these once, nested strings, dict keys and list items included, so a schema cannot forget it;
`Text` and `Instant` do the same for query and path parameters. A refusal is a 400 `validation-error` problem
that names the field down to the list index or dict key (`contacts.3.first_name`).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from .errors import printable

# NUL, and every UTF-16 surrogate: a Python str holds a surrogate only when it is unpaired (a valid pair
# decodes to one astral code point), and then it cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The same characters as `repr` writes them (`\x00`, `\udXXX`). Searching the repr of a whole body (built at C
# speed) proves most bodies clean at a fraction of the cost of walking them; a text holding a backslash followed
# by `x00` matches too, and is then walked for nothing.
_MAY_HOLD_UNSTORABLE = re.compile(r"\\x00|\\ud[89a-f]")
# BIGINT, the widest integer column; narrower columns have their own bounds in the domain schemas.
INT8_MIN = -(2**63)
INT8_MAX = 2**63 - 1

NUL_MESSAGE = "text must not contain NUL (\\u0000) characters"
SURROGATE_MESSAGE = "text must not contain unpaired surrogates (\\ud800-\\udfff)"
KEY_NUL_MESSAGE = "key must not contain NUL (\\u0000) characters"
KEY_SURROGATE_MESSAGE = "key must not contain unpaired surrogates (\\ud800-\\udfff)"
NUMBER_RANGE_MESSAGE = f"number must be between {INT8_MIN} and {INT8_MAX}"
FINITE_MESSAGE = "number must be finite (not NaN or Infinity)"
INSTANT_RANGE_MESSAGE = "instant must fall between years 1 and 9999 once converted to UTC"


def _text_problem(text: str, *, key: bool = False) -> str | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return KEY_NUL_MESSAGE if key else NUL_MESSAGE
    return KEY_SURROGATE_MESSAGE if key else SURROGATE_MESSAGE


def _instant_in_range(value: datetime) -> bool:
    # asyncpg converts an aware datetime to UTC before sending it; `0001-01-01T00:00+01:00` has no UTC year.
    if value.tzinfo is None:
        return True
    try:
        value.astimezone(UTC)
    except OverflowError:
        return False
    return True


Problem = tuple[tuple[int | str, ...], str, object]
# Values that hold no number and no instant: skipped without a call (an upload reads 10,000 models).
_PLAIN: frozenset[type] = frozenset({str, bool, type(None), uuid.UUID})


def _text_problems(raw: object, loc: tuple[int | str, ...] = ()) -> list[Problem]:
    """Every string of `raw` (decoded JSON: values, dict keys, list items, at any depth) that PostgreSQL cannot
    store, each with its location inside `raw`."""
    if isinstance(raw, str):
        message = _text_problem(raw)
        return [(loc, message, raw)] if message else []
    found: list[Problem] = []
    if isinstance(raw, Mapping):
        for key, item in raw.items():
            message = _text_problem(key, key=True) if isinstance(key, str) else None
            if message:
                # The key itself is the location, written out so that the problem carries no NUL of its own.
                found.append(((*loc, printable(key)), message, key))
            else:
                found += _text_problems(item, (*loc, key if isinstance(key, int | str) else str(key)))
    elif isinstance(raw, list | tuple):
        for index, item in enumerate(raw):
            found += _text_problems(item, (*loc, index))
    return found


def _number_problems(value: object, loc: tuple[int | str, ...] = ()) -> list[Problem]:
    """Every number or instant of a validated field value that no column holds. Nested models are skipped: a
    `StrictModel` has checked its own fields already."""
    if value is None or isinstance(value, str | bool | BaseModel):
        return []
    if isinstance(value, int):
        return [] if INT8_MIN <= value <= INT8_MAX else [(loc, NUMBER_RANGE_MESSAGE, value)]
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(loc, FINITE_MESSAGE, value)]
    if isinstance(value, Decimal):
        return [] if value.is_finite() else [(loc, FINITE_MESSAGE, value)]
    if isinstance(value, datetime):
        return [] if _instant_in_range(value) else [(loc, INSTANT_RANGE_MESSAGE, value)]
    found: list[Problem] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if type(item) not in _PLAIN:
                found += _number_problems(item, (*loc, key if isinstance(key, int | str) else str(key)))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            if type(item) not in _PLAIN:
                found += _number_problems(item, (*loc, index))
    return found


def _refuse(title: str, problems: list[Problem]) -> ValidationError:
    # Raised inside a validator, a ValidationError's errors are kept with their locations, each prefixed by the
    # field's own; a ValueError could only name the field as a whole.
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError("unstorable_value", message), loc=loc, input=found)
            for loc, message, found in problems
        ],
    )


class StrictModel(BaseModel):
    """Request bodies: unknown fields are refused (a `tenant_id` among them is the seed's 422), and so is any value
    PostgreSQL cannot store (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Before any field is read: a pattern, an enum or a domain validator never sees unstorable text, so every such
    # field is refused with the same message, and a message quoting its input cannot carry a NUL or a surrogate
    # (pydantic cannot even encode a message with a surrogate: that was a 500 of its own).
    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: object) -> object:
        if isinstance(data, Mapping) and _MAY_HOLD_UNSTORABLE.search(repr(data)):
            problems = _text_problems(data)
            if problems:
                raise _refuse(cls.__name__, problems)
        return data

    # After each field is read: bounds are each field's own business (`ge`/`le`), this is the floor under them all.
    # Per field, not per model, so that it is reported beside the other fields' errors.
    @field_validator("*", mode="after")
    @classmethod
    def _storable_numbers(cls, value: object) -> object:
        if type(value) not in _PLAIN:
            problems = _number_problems(value)
            if problems:
                raise _refuse(cls.__name__, problems)
        return value


class ReadModel(BaseModel):
    """Response bodies, built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


def _text_parameter(value: str) -> str:
    message = _text_problem(value)
    if message:
        raise PydanticCustomError("unstorable_value", message)
    return value


def _instant_parameter(value: datetime) -> datetime:
    if not _instant_in_range(value):
        raise PydanticCustomError("unstorable_value", INSTANT_RANGE_MESSAGE)
    return value


# A query or path parameter that is text (request bodies are covered by `StrictModel`).
Text = Annotated[str, AfterValidator(_text_parameter)]
# A query parameter that is an instant: aware (STYLE 6) and expressible in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_instant_parameter)]
