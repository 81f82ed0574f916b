"""`calls`: one row per dial attempt (DESIGN.md §3's call states; `abandoned` marks the silent-call rule).

Live states are `dialing`, `ringing`, `answered` and `bridged`; a call ends as `completed`, `no_answer`, `busy`,
`failed` or `voicemail`. The row is also the API's channel to the dialer: a call with `placed_at` unset is
waiting for a worker to originate it, `hangup_requested_at` asks the worker that owns it (`worker_id`) to end it.
The customer leg's id on the switch is the call id; the agent leg's is `agent_leg_id`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from engage.core.db import Base


class CallStatus(StrEnum):
    dialing = "dialing"
    ringing = "ringing"
    answered = "answered"
    bridged = "bridged"
    completed = "completed"
    no_answer = "no_answer"
    busy = "busy"
    failed = "failed"
    voicemail = "voicemail"


LIVE_STATUSES = frozenset({CallStatus.dialing, CallStatus.ringing, CallStatus.answered, CallStatus.bridged})
ENDED_STATUSES = frozenset(CallStatus) - LIVE_STATUSES


class CallOrigin(StrEnum):
    dialer = "dialer"  # paced by a campaign (progressive, power, predictive)
    manual = "manual"  # POST /v1/calls/originate
    preview = "preview"  # an agent dialled a previewed contact
    callback = "callback"  # a scheduled callback to the agent who asked for it


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "campaign_id"], ["campaigns.tenant_id", "campaigns.id"]),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    campaign_id: Mapped[uuid.UUID | None]
    contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    contact_phone: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16), default="outbound")
    origin: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    abandoned: Mapped[bool] = mapped_column(default=False)
    disposition: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(String(2000))
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    cli: Mapped[str | None] = mapped_column(String(16))
    compliance_audit_ref: Mapped[str | None] = mapped_column(String(32))
    agent_leg_id: Mapped[str | None] = mapped_column(String(64))
    worker_id: Mapped[str | None] = mapped_column(String(64))
    placed_at: Mapped[datetime | None]
    hangup_requested_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    bridged_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None]
    talk_time_seconds: Mapped[int | None]
    recording_id: Mapped[uuid.UUID | None]
    recording_path: Mapped[str | None] = mapped_column(String(1024))
    dispositioned_at: Mapped[datetime | None]
