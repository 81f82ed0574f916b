"""`campaigns` and `campaign_agents`."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(["tenant_id", "cli_group_id"], ["cli_groups.tenant_id", "cli_groups.id"]),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    dialing_mode: Mapped[str] = mapped_column(String(16))
    cli_group_id: Mapped[uuid.UUID]
    max_attempts: Mapped[int]
    retry_delay_minutes: Mapped[int]
    dial_ratio: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    timezone: Mapped[str] = mapped_column(String(64))
    wrap_up_seconds: Mapped[int]
    abandon_rate_target: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    calling_window_start: Mapped[time | None]
    calling_window_end: Mapped[time | None]
    # After an abandoned call the number is not redialled for this long (Ofcom's 72 h by default).
    abandon_lockout_hours: Mapped[int] = mapped_column(default=72)
    # What the switch plays to a callee no agent could take (a file path on the switch), if anything.
    abandon_message: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class CampaignAgent(Base):
    __tablename__ = "campaign_agents"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "campaign_id"], ["campaigns.tenant_id", "campaigns.id"]),)

    tenant_id: Mapped[uuid.UUID]
    campaign_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    assigned_at: Mapped[datetime]


class CampaignStats(Base):
    """Counters kept by triggers on `contacts` (migration 20261205_1000): reading them costs one row whatever
    the campaign holds."""

    __tablename__ = "campaign_stats"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "campaign_id"], ["campaigns.tenant_id", "campaigns.id"]),)

    tenant_id: Mapped[uuid.UUID]
    campaign_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    total_contacts: Mapped[int]
    contacted: Mapped[int]
    connected: Mapped[int]


class CampaignHourly(Base):
    """Per campaign and hour (UTC, truncated): calls dialled, answered by a person, abandoned, connected to an
    agent. The rolling 24 h abandon rate sums the last 24 of them; the dialer adds to them as calls progress."""

    __tablename__ = "campaign_hourly"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "campaign_id"], ["campaigns.tenant_id", "campaigns.id"]),)

    tenant_id: Mapped[uuid.UUID]
    campaign_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    dialled: Mapped[int] = mapped_column(default=0)
    answered: Mapped[int] = mapped_column(default=0)
    abandoned: Mapped[int] = mapped_column(default=0)
    connected: Mapped[int] = mapped_column(default=0)
