"""Route: GET /v1/campaigns/{id}/diagnostics (supervisor, admin): whether the campaign is dialling now, and why not.

It names agents and their SIP users, so besides reading campaigns it needs `agents:read` (as the list of a
campaign's agents does); agents get a 403. Another tenant's campaign is the campaign's 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from engage.compliance.deps import EngineDep
from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.principal import Permission, Principal

from . import diagnostics
from .diagnostics_schemas import CampaignDiagnostics
from .snapshots import PacingLimits

router = APIRouter(prefix="/v1", tags=["campaigns"])

CampaignsReader = Annotated[Principal, Depends(require(Permission.campaigns_read))]
AgentsReader = Annotated[Principal, Depends(require(Permission.agents_read))]


@router.get(
    "/campaigns/{campaign_id}/diagnostics",
    response_model=CampaignDiagnostics,
    summary="Why a campaign is or is not dialling now",
)
async def get_diagnostics(
    _: CampaignsReader,
    __: AgentsReader,
    session: SessionDep,
    runtime: RuntimeDep,
    engine: EngineDep,
    campaign_id: uuid.UUID,
) -> CampaignDiagnostics:
    settings = runtime.settings.dialer
    return await diagnostics.diagnose(
        session,
        campaign_id,
        now=runtime.clock.now(),
        book=engine.book,
        limits=PacingLimits(ring_timeout_seconds=float(settings.ring_timeout_seconds)),
        lease_stale_seconds=settings.lease_stale_seconds,
    )
