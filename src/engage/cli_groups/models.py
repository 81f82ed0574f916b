"""`cli_groups` and `cli_numbers`. A number (E.164) belongs to one group of one tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.core.db import Base


class CliGroup(Base):
    __tablename__ = "cli_groups"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), UniqueConstraint("tenant_id", "id"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    numbers: Mapped[list[CliNumber]] = relationship(
        lazy="selectin", order_by="CliNumber.number", cascade="all, delete-orphan"
    )


class CliNumber(Base):
    __tablename__ = "cli_numbers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        ForeignKeyConstraint(["tenant_id", "cli_group_id"], ["cli_groups.tenant_id", "cli_groups.id"]),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    cli_group_id: Mapped[uuid.UUID] = mapped_column(index=True)
    number: Mapped[str] = mapped_column(String(16))
