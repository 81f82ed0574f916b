"""Who is calling: the principal a valid access token names, and what each role may do.

One matrix maps roles to permissions; endpoints ask for a permission, never for a role, so the matrix is
the single place that says who may do what.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    agent = "agent"
    supervisor = "supervisor"
    admin = "admin"


class Permission(StrEnum):
    users_read = "users:read"
    users_write = "users:write"
    teams_read = "teams:read"
    teams_write = "teams:write"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.agent: frozenset(),
    Role.supervisor: frozenset({Permission.teams_read}),
    Role.admin: frozenset(Permission),
}


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]
