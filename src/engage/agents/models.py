"""`agent_states`: one row per agent (an agent without a row is `offline`); `agent_state_history`: every state an
agent entered, appended by a database trigger on `agent_states` (migration 20261207_1100), never written here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class AgentState(Base):
    __tablename__ = "agent_states"

    tenant_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    state_since: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(500))
    # Set by the dialer: the call the agent is reserved for or on, and when wrap-up ends.
    current_call_id: Mapped[uuid.UUID | None]
    wrap_up_until: Mapped[datetime | None]


class AgentStateHistory(Base):
    """A state the agent entered at `started_at`; it lasted until the agent's next row (reports sum these)."""

    __tablename__ = "agent_state_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]


class SipRegistration(Base):
    """What the switch last said about a SIP user (platform data, no tenant: the API joins it to the tenant's
    own users by `sip_user`). Written by the dialer worker from the switch's registration events."""

    __tablename__ = "sip_registrations"

    sip_user: Mapped[str] = mapped_column(String(64), primary_key=True)
    registered: Mapped[bool]
    registered_at: Mapped[datetime | None]
    changed_at: Mapped[datetime]
    user_agent: Mapped[str | None] = mapped_column(String(200))
