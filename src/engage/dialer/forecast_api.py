"""Route: POST /v1/campaigns/{id}/forecast, the staffing forecast (supervisors and admins).

The route opens its own tenant transaction for the reads and closes it before simulating, rather than taking
`SessionDep`, whose transaction lasts the whole request: the simulation spends up to `forecast.BUDGET_SECONDS`
of CPU and must not hold a pooled connection (and a snapshot) meanwhile. The forecast writes nothing.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from engage.campaigns.schemas import DialingMode
from engage.core.db import tenant_transaction
from engage.core.deps import RuntimeDep, require
from engage.core.principal import Permission, Principal

from . import forecast
from .forecast_schemas import ForecastEstimates, ForecastRead, ForecastRequest

router = APIRouter(prefix="/v1", tags=["campaigns"])

# Planning a campaign's staffing is a supervisor's task: agents read campaigns but do not plan them, so the
# forecast asks for the campaign-write permission (supervisors and admins), though it writes nothing.
Planner = Annotated[Principal, Depends(require(Permission.campaigns_write))]


def _read(result: forecast.Forecast) -> ForecastRead:
    inputs, estimates, pooled = result.inputs, result.callees.estimates, result.pooled
    return ForecastRead(
        campaign_id=inputs.campaign_id,
        dialing_mode=DialingMode(inputs.dialing_mode),
        agents=result.agents,
        hours=result.hours,
        simulated_hours=round(pooled.simulated_seconds / 3600.0, 3),
        seeds=list(pooled.seeds),
        occupancy=round(pooled.occupancy, 4),
        abandon_rate=round(pooled.abandon_rate, 2),
        connects_per_hour=round(pooled.connects_per_hour, 1),
        dials_per_hour=round(pooled.dials_per_hour, 1),
        contacts_remaining=result.contacts_remaining,
        expected_dials_remaining=round(result.expected_dials_remaining, 1),
        list_exhausted_at=result.list_exhausted_at,
        estimates=ForecastEstimates(
            samples=estimates.samples,
            answer_rate=round(result.callees.answer_rate, 4),
            mean_time_to_answer_seconds=round(estimates.time_to_answer.mean, 1),
            mean_talk_seconds=round(estimates.talk.mean, 1),
            wrap_up_seconds=inputs.wrap_up_seconds,
            ring_timeout_seconds=inputs.ring_timeout_seconds,
            early_end_rate=round(result.callees.early_end_rate, 4),
            priors_dominate=result.callees.priors_dominate,
        ),
    )


@router.post(
    "/campaigns/{campaign_id}/forecast",
    response_model=ForecastRead,
    summary="Forecast the campaign with a given number of agents",
    description="Simulates the campaign's own pacer on callees that behave as its recent calls did (seeded, "
    "within a CPU budget). 409 `forecast-not-available` for a preview campaign.",
)
async def forecast_campaign(
    principal: Planner, runtime: RuntimeDep, campaign_id: uuid.UUID, body: ForecastRequest
) -> ForecastRead:
    async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
        inputs = await forecast.gather(
            session, campaign_id, ring_timeout_seconds=runtime.settings.dialer.ring_timeout_seconds, clock=runtime.clock
        )
    return _read(await forecast.run(inputs, agents=body.agents, hours=body.hours))
