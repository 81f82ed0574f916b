"""Problems of the consents domain."""

from __future__ import annotations

from engage.core.errors import Conflict, NotFound


class ConsentNotFound(NotFound):
    slug = "consent-not-found"
    title = "Consent not found"


class ConsentAlreadyWithdrawn(Conflict):
    slug = "consent-already-withdrawn"
    title = "Consent already withdrawn"
