from __future__ import annotations

from engage.core.errors import Conflict, NotFound, ProblemError


class UserNotFound(NotFound):
    slug = "user-not-found"
    title = "User not found"


class TeamNotFound(NotFound):
    slug = "team-not-found"
    title = "Team not found"


class UnknownTeam(ProblemError):
    status = 422
    slug = "unknown-team"
    title = "Unknown team"


class EmailTaken(Conflict):
    slug = "email-taken"
    title = "Email already in use"


class SipUserTaken(Conflict):
    slug = "sip-user-taken"
    title = "SIP user already in use"


class TeamNameTaken(Conflict):
    slug = "team-name-taken"
    title = "Team name already in use"


class SelfLockout(Conflict):
    slug = "self-lockout"
    title = "You cannot lock yourself out"
