"""Wire format of /v1/calls (seed "Calls"): a call as the list and GET show it (the seed's fields, then the ones
DESIGN.md's call model adds), today's figures and the live count. Instants are UTC ISO-8601."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import datetime

from pydantic import Field

from engage.core.schemas import ReadModel

from .models import CallOrigin, CallStatus


class CallRead(ReadModel):
    # The seed's fields, in its order.
    id: uuid.UUID
    campaign_id: uuid.UUID | None = Field(description="None for a manual call placed outside any campaign")
    agent_id: uuid.UUID | None
    contact_phone: str
    direction: str = Field(examples=["outbound"])
    status: CallStatus
    disposition: str | None
    duration_seconds: int | None
    talk_time_seconds: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    recording_id: uuid.UUID | None
    # Beyond the seed.
    contact_id: uuid.UUID | None
    abandoned: bool = Field(description="Answered by the callee, but no agent was bridged within 2 s")
    hangup_cause: str | None
    cli: str | None = Field(description="The caller ID presented")
    compliance_audit_ref: str | None = Field(description="The compliance decision that allowed the call")
    origin: CallOrigin
    notes: str | None


# The body's fields, in its order: the columns a listing writes as each call's JSON (`repository.list_calls`).
CALL_FIELDS = tuple(CallRead.model_fields)


class CallsToday(ReadModel):
    """GET /v1/calls/count-today: the seed's body, word for word."""

    # `dt.date`: a field named `date` would shadow the type in the class namespace.
    date: dt.date = Field(description="Today in the tenant's time zone")
    total_calls: int
    connected: int = Field(description="Calls that reached an agent")
    no_answer: int
    busy: int
    failed: int
    voicemail: int
    avg_talk_time_seconds: int = Field(description="Over connected calls that have ended; 0 without any")
    abandon_rate: float = Field(description="Percent of calls answered by a person that were abandoned")
    as_of: datetime


class ActiveCalls(ReadModel):
    """GET /v1/calls/active-count: the seed's body."""

    active_calls: int
    ringing: int = Field(description="Calls dialing or ringing")
    connected: int = Field(description="Calls answered or bridged")
    as_of: datetime
