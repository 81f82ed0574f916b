"""`recordings` and `recording_settings` (tenant-owned, row-level security; migration 20261207_1000).

A recording is `pending` from the moment the switch starts recording until its file is in object storage
(`stored`); `failed` when the file is gone for good; `deleted` when an admin or the retention purge removed the
object (the row stays as the trace). Only `stored` recordings are listed and played. `object_key` and
`local_path` are internal: no response ever carries them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class RecordingStatus(StrEnum):
    pending = "pending"
    stored = "stored"
    failed = "failed"
    deleted = "deleted"


class DeletionReason(StrEnum):
    admin = "admin"
    retention = "retention"


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agent_name: Mapped[str | None] = mapped_column(String(200))
    campaign_id: Mapped[uuid.UUID | None]
    contact_phone: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    object_key: Mapped[str] = mapped_column(String(512))
    local_path: Mapped[str | None] = mapped_column(String(1024))
    duration_seconds: Mapped[int | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    stored_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[uuid.UUID | None]
    deletion_reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]


class RecordingSettings(Base):
    __tablename__ = "recording_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    # None: recordings are kept until deleted.
    retention_days: Mapped[int | None]
    updated_at: Mapped[datetime]
