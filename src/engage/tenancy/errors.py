from __future__ import annotations

from engage.core.errors import ProblemError


class InvalidTenantSettings(ProblemError):
    status = 400
    slug = "validation-error"
    title = "Invalid tenant settings"
