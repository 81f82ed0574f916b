"""Every table, imported in one place so Alembic and the test suite see the whole schema."""

from __future__ import annotations

from engage.auth.models import RefreshToken
from engage.core.db import Base
from engage.core.outbox import OutboxEvent
from engage.tenancy.models import Tenant
from engage.users.models import Team, User

metadata = Base.metadata

__all__ = ["OutboxEvent", "RefreshToken", "Team", "Tenant", "User", "metadata"]
