"""`agent_states`: one row per agent (an agent without a row is `offline`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class AgentState(Base):
    __tablename__ = "agent_states"

    tenant_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    state_since: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(500))
