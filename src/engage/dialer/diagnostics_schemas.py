"""Wire format of GET /v1/campaigns/{id}/diagnostics: whether a campaign is dialling now and, precisely, why not."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, JsonValue

from engage.campaigns.schemas import CampaignStatus, DialingMode


class ReasonCode(StrEnum):
    """Why a campaign is not dialling (or dials less than it could), machine-readable."""

    campaign_not_active = "campaign_not_active"
    no_worker = "no_worker"
    switch_disconnected = "switch_disconnected"
    no_agents_assigned = "no_agents_assigned"
    no_agents_logged_in = "no_agents_logged_in"
    no_agents_registered = "no_agents_registered"
    no_agents_available = "no_agents_available"
    list_exhausted = "list_exhausted"
    outside_calling_window = "outside_calling_window"
    waiting_for_retries = "waiting_for_retries"
    pacer_holding_back = "pacer_holding_back"
    blocked = "blocked"


class DiagnosticReason(BaseModel):
    code: ReasonCode
    blocking: bool = Field(description="By itself, this stops the campaign from starting new calls now")
    message: str
    details: dict[str, JsonValue] = Field(default_factory=dict)


class AgentCounts(BaseModel):
    """The campaign's assigned agents (active users with the agent role), by what the dialer can do with them."""

    assigned: int
    logged_in: int = Field(description="Not offline")
    available: int = Field(description="In the `available` state, registered or not")
    registered: int = Field(description="SIP user registered with the switch (sip_registrations)")
    busy: int = Field(description="Reserved for a call, on a call or in wrap-up")
    away: int = Field(description="Logged in but on break, lunch or training")
    ready: int = Field(description="Available and registered: the agents the dialer offers calls to")


class CallingWindow(BaseModel):
    """The calling hours of the campaign's remaining contacts in one jurisdiction and time zone (the legal hours
    of the jurisdiction's rule set, intersected with the campaign's own calling window)."""

    jurisdiction: str | None
    timezone: str | None
    contacts: int = Field(description="Remaining contacts in this jurisdiction and zone")
    open_now: bool
    opens_at: datetime | None = Field(
        description="The next permitted instant (now when open; null: none within 14 days, or unknown)"
    )


class ContactCounts(BaseModel):
    total: int
    by_status: dict[str, int]
    remaining: int = Field(description="Pending with attempts left (callbacks apart): what the hopper may still take")
    dialable_now: int = Field(description="Remaining, due now, not held for a preview, in an open calling window")
    waiting_for_retry: int = Field(description="Remaining, next attempt later (retry delay, lockout, reschedule)")
    next_retry_at: datetime | None
    held_for_preview: int
    callbacks_scheduled: int
    next_callback_at: datetime | None
    calling_windows: list[CallingWindow]


class LeaseRead(BaseModel):
    worker_id: str
    hostname: str | None
    pid: int | None
    acquired_at: datetime
    heartbeat_at: datetime | None
    heartbeat_age_seconds: float | None
    fresh: bool = Field(description="The heartbeat is younger than the lease's stale period")
    switch_connected: bool | None


class PacerRead(BaseModel):
    mode: DialingMode
    lines_wanted: int = Field(description="New lines the campaign's pacer would start now")
    reason: str
    figures: dict[str, float | int | None]


class CampaignDiagnostics(BaseModel):
    campaign_id: uuid.UUID
    status: CampaignStatus
    dialing: bool = Field(
        description="Active, paced by a live worker whose switch is up, and calls in flight or about to be placed"
    )
    reasons: list[DiagnosticReason] = Field(description="Blocking reasons first")
    agents: AgentCounts
    contacts: ContactCounts
    lease: LeaseRead | None
    lines_in_flight: int = Field(description="The campaign's live calls (dialing, ringing, answered, bridged)")
    pacer: PacerRead
    as_of: datetime
