"""Identifiers: UUIDv7 everywhere (RFC 9562), so keyset pagination on `id` is also chronological."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    """A fresh, time-ordered id as a standard-library UUID."""
    return uuid7()
