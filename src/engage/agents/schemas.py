"""Wire format of /v1/agents/*/state (seed "Agents", DESIGN.md §3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from engage.core.schemas import ReadModel, StrictModel


class AgentStatus(StrEnum):
    """Every state of DESIGN.md §3, in its order (also the order of the board's `summary` counts)."""

    offline = "offline"
    available = "available"
    reserved = "reserved"
    on_call = "on_call"
    wrap_up = "wrap_up"
    # `break` is a Python keyword; the value is the API string.
    break_ = "break"
    lunch = "lunch"
    training = "training"


class SettableStatus(StrEnum):
    """The states a person may choose (seed: `available | break | lunch | training | offline`). `reserved`,
    `on_call` and `wrap_up` are set by the dialer alone, so the API refuses them as unknown values."""

    available = "available"
    break_ = "break"
    lunch = "lunch"
    training = "training"
    offline = "offline"


# 500: the `agent_states.reason` column.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class AgentStateChange(StrictModel):
    state: SettableStatus = Field(examples=["break"])
    reason: Reason | None = Field(default=None, examples=["Short break"])

    @field_validator("reason")
    @classmethod
    def _blank_reason_is_no_reason(cls, value: str | None) -> str | None:
        # A UI that sends its empty text box means "no reason", not a reason of zero characters.
        return value or None


class AgentStateRead(ReadModel):
    """The seed's response of POST /v1/agents/me/state, word for word."""

    agent_id: uuid.UUID
    state: AgentStatus
    state_since: datetime
    reason: str | None


class AgentOnBoard(ReadModel):
    id: uuid.UUID
    full_name: str
    state: AgentStatus
    state_since: datetime
    sip_registered: bool
    current_call_id: uuid.UUID | None
    calls_today: int
    talk_time_today_seconds: int


class AgentSummary(BaseModel):
    """`total` and one count per state of DESIGN.md §3 (zero included), so a wallboard never has to guess
    whether a missing key means zero."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    total: int
    offline: int
    available: int
    reserved: int
    on_call: int
    wrap_up: int
    break_: int = Field(alias="break")
    lunch: int
    training: int


class AgentBoard(BaseModel):
    """GET /v1/agents/state: the seed's `{agents, summary}`."""

    agents: list[AgentOnBoard]
    summary: AgentSummary


class SipRegistrationRead(ReadModel):
    agent_id: uuid.UUID
    sip_user: str
    registered_at: datetime | None
    user_agent: str | None


class SipRegistrations(BaseModel):
    """GET /v1/agents/sip-registered: the seed's body."""

    registered: list[SipRegistrationRead]
    total_registered: int
    total_agents: int = Field(description="Active agents of the organisation, registered or not")
