"""Wire format of call control (seed "Calls": POST /v1/calls/originate; DESIGN.md §2: hangup, disposition) and
of preview dialling (/v1/agents/me/preview*)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from engage.calls.models import CallOrigin, CallStatus
from engage.contacts.schemas import ContactStatus, FieldValue
from engage.core.schemas import ReadModel, StrictModel

# Longer than any phone number anyone types (core.phones refuses more than 40 characters).
PhoneText = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class OriginateRequest(StrictModel):
    agent_id: uuid.UUID = Field(description="Agent who will receive the bridged call")
    destination: PhoneText = Field(
        description="Destination phone, E.164 (local format is read in your country)", examples=["+971501234567"]
    )
    campaign_id: uuid.UUID | None = Field(default=None, description="Associate the call with a campaign")
    cli_override: PhoneText | None = Field(
        default=None, description="Caller ID to present (must be one of your CLI numbers)"
    )


class ComplianceAllowed(BaseModel):
    allowed: bool
    rule_version: str | None
    audit_ref: str


class CallAccepted(BaseModel):
    """The seed's 202 of POST /v1/calls/originate, word for word (also POST /v1/agents/me/preview/dial)."""

    call_id: uuid.UUID
    status: CallStatus
    destination: str
    compliance: ComplianceAllowed


class HangupAccepted(BaseModel):
    call_id: uuid.UUID
    status: CallStatus
    hangup_requested_at: datetime


Disposition = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Notes = Annotated[str, StringConstraints(max_length=2000)]


class DispositionRequest(StrictModel):
    """`callback_at`: within 90 days, in the future; `add_to_dnc` cannot go with it (the service checks both,
    since "the future" needs the clock)."""

    disposition: Disposition = Field(examples=["sale"])
    notes: Notes | None = None
    callback_at: AwareDatetime | None = Field(default=None, examples=["2026-06-14T09:30:00Z"])
    add_to_dnc: bool = False


class CallControlRead(ReadModel):
    """A call after a control request: the seed's call item plus what the agent and CRM need."""

    id: uuid.UUID
    campaign_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    contact_phone: str
    direction: str
    origin: CallOrigin
    status: CallStatus
    abandoned: bool
    disposition: str | None
    notes: str | None
    hangup_cause: str | None
    cli: str | None
    compliance_audit_ref: str | None
    duration_seconds: int | None
    talk_time_seconds: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    dispositioned_at: datetime | None
    recording_id: uuid.UUID | None


class PreviewContact(ReadModel):
    id: uuid.UUID
    phone: str
    first_name: str | None
    last_name: str | None
    custom_fields: dict[str, FieldValue]
    attempts: int
    status: ContactStatus


class PreviewCampaign(ReadModel):
    id: uuid.UUID
    name: str


class PreviewRead(BaseModel):
    """The contact held for the agent. With nothing to preview, every member is null (a 200, not a 404: the
    agent asked a valid question whose answer is "nothing now")."""

    contact: PreviewContact | None
    campaign: PreviewCampaign | None
    reserved_until: datetime | None


class CurrentCallRead(BaseModel):
    """GET /v1/agents/me/call: the call on the agent's desk (live, or ended and waiting for its disposition), the
    contact it is with and its campaign. With none, every member is null (a 200: "nothing now")."""

    call: CallControlRead | None
    contact: PreviewContact | None
    campaign: PreviewCampaign | None


class PreviewChoice(StrictModel):
    contact_id: uuid.UUID


class PreviewSkipped(BaseModel):
    contact_id: uuid.UUID
    next_attempt_at: datetime
