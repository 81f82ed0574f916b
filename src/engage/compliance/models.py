"""`dial_attempts` (what the frequency cap counts) and `compliance_audit` (append-only, hash-chained by a
trigger; see migration 20261127_0830)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, FetchedValue, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class DialAttempt(Base):
    __tablename__ = "dial_attempts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    phone: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[uuid.UUID | None]
    attempted_at: Mapped[datetime]
    answered: Mapped[bool]
    disposition: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """One decision. `seq`, `prev_hash` and `hash` are set by the database trigger, never by the app."""

    __tablename__ = "compliance_audit"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, server_default=FetchedValue())
    tenant_id: Mapped[uuid.UUID]
    decided_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[uuid.UUID | None]
    campaign_id: Mapped[uuid.UUID | None]
    phone: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    rule_version: Mapped[str | None] = mapped_column(String(32))
    allowed: Mapped[bool]
    blocking_rule: Mapped[str | None] = mapped_column(String(32))
    blocking_reason: Mapped[str | None] = mapped_column(Text)
    checks: Mapped[dict[str, Any]]
    request: Mapped[dict[str, Any]]
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), server_default=FetchedValue())
