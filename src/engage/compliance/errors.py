"""Problems of /v1/compliance."""

from __future__ import annotations

from engage.core.errors import NotFound, ValidationFailed


class InvalidPhone(ValidationFailed):
    slug = "invalid-phone"
    title = "Invalid phone number"


class AuditNotFound(NotFound):
    slug = "audit-not-found"
    title = "Audit record not found"
