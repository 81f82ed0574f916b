"""`users` and `teams`. Emails are unique across the installation (login has no tenant field), and so are SIP user
names (one switch serves every tenant); team names are unique within a tenant; a user's team is always of its own
tenant (composite foreign key on `(tenant_id, team_id)`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # One switch serves every tenant: a SIP user names one phone in the installation (migration 20261210_0900).
        UniqueConstraint("sip_user"),
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"]),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    sip_user: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[uuid.UUID | None]
    is_active: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # Refresh tokens issued before this instant are dead: a password change or a deactivation signs every
    # session out (and a later reactivation does not bring those sessions back).
    sessions_revoked_at: Mapped[datetime]
