"""Wire format of the staffing forecast (POST /v1/campaigns/{id}/forecast).

Units follow the rest of the API: `abandon_rate` is a percentage like the campaign's `abandon_rate` and
`abandon_rate_target`; `occupancy` and `answer_rate` are fractions (0-1), like the pacer's own figures.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from engage.campaigns.schemas import DialingMode
from engage.core.schemas import StrictModel

# Strict: `"5"`, `true` or `5.5` agents are a wrong type, not a number to coerce. 500 agents is already a very
# large floor for one campaign, and it bounds the work of one simulated tick.
ForecastAgents = Annotated[int, Field(strict=True, ge=1, le=500)]
# At most a day: calling windows are shorter, and the simulation's CPU budget would cut a longer one anyway.
ForecastHours = Annotated[float, Field(strict=True, gt=0, le=24, allow_inf_nan=False)]


class ForecastRequest(StrictModel):
    agents: ForecastAgents = Field(description="Agents on the floor, all logged in and working", examples=[12])
    hours: ForecastHours = Field(default=8.0, description="The horizon, in hours (default 8)", examples=[8])


class ForecastEstimates(BaseModel):
    """What the campaign's own recent calls say, as the simulation was fed them."""

    samples: int = Field(description="Finished calls read (at most 400, the most recent)")
    answer_rate: float = Field(description="Share of dials answered by a person (0-1)")
    mean_time_to_answer_seconds: float
    mean_talk_seconds: float
    wrap_up_seconds: int
    ring_timeout_seconds: int
    early_end_rate: float = Field(description="Share of dials that ended without a person before the ring timeout")
    priors_dominate: bool = Field(
        description="Too few calls: the figures lean on built-in priors more than on this campaign's history"
    )


class ForecastRead(BaseModel):
    campaign_id: uuid.UUID
    dialing_mode: DialingMode
    agents: int
    hours: float = Field(description="The horizon asked for")
    simulated_hours: float = Field(description="Hours every seed simulated; less than `hours` when the budget ran out")
    seeds: list[int]
    occupancy: float = Field(description="Agent talk time over logged-in time (0-1)")
    abandon_rate: float = Field(description="Abandoned calls over calls answered by a person, in percent")
    connects_per_hour: float
    dials_per_hour: float
    contacts_remaining: int = Field(description="Contacts still to dial (pending or being dialled)")
    expected_dials_remaining: float
    list_exhausted_at: datetime | None = Field(
        description="When the list is expected to run out; null if not within `hours` (or no dialling at all)"
    )
    estimates: ForecastEstimates
