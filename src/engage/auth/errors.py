from __future__ import annotations

from engage.core.errors import ProblemError


class InvalidCredentials(ProblemError):
    status = 401
    slug = "invalid-credentials"
    title = "Invalid credentials"


class InvalidRefreshToken(ProblemError):
    status = 401
    slug = "invalid-refresh-token"
    title = "Invalid refresh token"


class LoginThrottled(ProblemError):
    status = 429
    slug = "login-throttled"
    title = "Too many failed logins"
