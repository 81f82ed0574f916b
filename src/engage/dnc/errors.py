"""Problems of the dnc domain."""

from __future__ import annotations

from engage.core.errors import NotFound, ProblemError


class DncEntryNotFound(NotFound):
    slug = "dnc-entry-not-found"
    title = "DNC entry not found"


class TooManyPhones(ProblemError):
    """More numbers in one request than the route takes: 413, so a client knows to split the batch rather
    than fix a field; nothing of the request is stored."""

    status = 413
    slug = "too-many-phones"
    title = "Too many phone numbers"
