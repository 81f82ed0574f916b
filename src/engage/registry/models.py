"""`registry_numbers` and `registry_loads`: no tenant column and no row-level security (the same data for
every tenant); the app role may only read them (migration 20261127_0830)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class RegistryNumber(Base):
    __tablename__ = "registry_numbers"

    jurisdiction: Mapped[str] = mapped_column(String(2), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), primary_key=True)


class RegistryLoad(Base):
    """The last load of one jurisdiction's registry: when, how many numbers it holds since, and how."""

    __tablename__ = "registry_loads"

    jurisdiction: Mapped[str] = mapped_column(String(2), primary_key=True)
    loaded_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(500))
