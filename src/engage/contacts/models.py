"""`contacts`. Triggers keep each contact's words in `contact_terms`, which search reads (see repository.search);
a BEFORE INSERT trigger stores a number on the tenant DNC list as `dnc`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        ForeignKeyConstraint(["tenant_id", "campaign_id"], ["campaigns.tenant_id", "campaigns.id"]),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    campaign_id: Mapped[uuid.UUID]
    phone: Mapped[str] = mapped_column(String(16))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    custom_fields: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    last_call_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    disposition: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # Preview dialling: the agent a contact is held for, and until when (then it returns to the hopper).
    reserved_by: Mapped[uuid.UUID | None]
    reserved_until: Mapped[datetime | None]
    # A callback asked for by an agent goes to that agent (DESIGN.md: disposition `callback_at`).
    callback_agent_id: Mapped[uuid.UUID | None]
