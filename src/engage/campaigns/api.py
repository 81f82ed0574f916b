"""Routes: /v1/campaigns, their lifecycle (start, pause, complete) and assigned agents.

Read: every role (agents see the campaigns they dial). Write and lifecycle: supervisor and admin. The list of
assigned agents names colleagues with their emails, so it needs `agents:read` (supervisor and admin).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from engage.core.deps import Reading, RuntimeDep, SessionDep, reading, require
from engage.core.openapi import links
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal
from engage.core.responses import json_body
from engage.core.schemas import Instant

from . import service
from .schemas import (
    CampaignAgentRead,
    CampaignAgentsAssign,
    CampaignAgentsAssigned,
    CampaignCompleted,
    CampaignCreate,
    CampaignPaused,
    CampaignRead,
    CampaignStarted,
    CampaignStatus,
    CampaignUpdate,
    DialingMode,
)

router = APIRouter(prefix="/v1", tags=["campaigns"])

CampaignsReader = Annotated[Principal, Depends(require(Permission.campaigns_read))]
# The listing's one dependency (`core.deps.reading`): caller, permission and a read-only transaction.
CampaignsReads = Annotated[Reading, Depends(reading(Permission.campaigns_read), scope="function")]
CampaignsWriter = Annotated[Principal, Depends(require(Permission.campaigns_write))]
AgentsReader = Annotated[Principal, Depends(require(Permission.agents_read))]
CampaignPage = Annotated[PageParams, Depends(page_params(default=20, maximum=100))]
AgentPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]


def _read(view: service.CampaignView) -> CampaignRead:
    return CampaignRead.of(view.campaign, view.counters)


@router.get("/campaigns", response_model=Page[CampaignRead], summary="List campaigns")
async def list_campaigns(
    reads: CampaignsReads,
    page: CampaignPage,
    status: Annotated[CampaignStatus | None, Query()] = None,
    dialing_mode: Annotated[DialingMode | None, Query()] = None,
    created_from: Annotated[Instant | None, Query(description="Created at or after (ISO-8601 instant)")] = None,
    created_to: Annotated[Instant | None, Query(description="Created at or before (ISO-8601 instant)")] = None,
) -> Response:
    result = await service.list_campaigns(
        reads.db,
        page,
        status=status,
        dialing_mode=dialing_mode,
        created_from=created_from,
        created_to=created_to,
        clock=reads.runtime.clock,
    )
    return json_body(result)


@router.post(
    "/campaigns",
    response_model=CampaignRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a campaign",
    responses=links(
        201,
        **{
            name: {"campaign_id": "$response.body#/id"}
            for name in (
                "get_campaign",
                "update_campaign",
                "start_campaign",
                "pause_campaign",
                "complete_campaign",
                "list_campaign_agents",
                "assign_campaign_agents",
                "upload_contacts",
                "list_contacts",
                "get_diagnostics",
                "forecast_campaign",
            )
        },
    ),
)
async def create_campaign(
    principal: CampaignsWriter, session: SessionDep, runtime: RuntimeDep, body: CampaignCreate
) -> CampaignRead:
    return _read(await service.create_campaign(session, principal.tenant_id, body, clock=runtime.clock))


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead, summary="Get a campaign")
async def get_campaign(
    _: CampaignsReader, session: SessionDep, runtime: RuntimeDep, campaign_id: uuid.UUID
) -> CampaignRead:
    return _read(await service.get_campaign(session, campaign_id, clock=runtime.clock))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignRead, summary="Update a draft or paused campaign")
async def update_campaign(
    _: CampaignsWriter, session: SessionDep, runtime: RuntimeDep, campaign_id: uuid.UUID, body: CampaignUpdate
) -> CampaignRead:
    return _read(await service.update_campaign(session, campaign_id, body, clock=runtime.clock))


@router.post("/campaigns/{campaign_id}/start", response_model=CampaignStarted, summary="Start dialing")
async def start_campaign(
    _: CampaignsWriter, session: SessionDep, runtime: RuntimeDep, campaign_id: uuid.UUID
) -> CampaignStarted:
    campaign = await service.start_campaign(session, campaign_id, clock=runtime.clock)
    if campaign.started_at is None:
        raise RuntimeError("service.start_campaign returned no started_at; its start transition always sets it")
    return CampaignStarted(id=campaign.id, status=CampaignStatus(campaign.status), started_at=campaign.started_at)


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignPaused, summary="Pause dialing")
async def pause_campaign(
    _: CampaignsWriter, session: SessionDep, runtime: RuntimeDep, campaign_id: uuid.UUID
) -> CampaignPaused:
    campaign = await service.pause_campaign(session, campaign_id, clock=runtime.clock)
    if campaign.paused_at is None:
        raise RuntimeError("service.pause_campaign returned no paused_at; its pause transition always sets it")
    return CampaignPaused(id=campaign.id, status=CampaignStatus(campaign.status), paused_at=campaign.paused_at)


@router.post("/campaigns/{campaign_id}/complete", response_model=CampaignCompleted, summary="Complete a campaign")
async def complete_campaign(
    _: CampaignsWriter, session: SessionDep, runtime: RuntimeDep, campaign_id: uuid.UUID
) -> CampaignCompleted:
    campaign = await service.complete_campaign(session, campaign_id, clock=runtime.clock)
    if campaign.completed_at is None:
        raise RuntimeError("service.complete_campaign returned no completed_at; its complete transition always sets it")
    return CampaignCompleted(id=campaign.id, status=CampaignStatus(campaign.status), completed_at=campaign.completed_at)


@router.get(
    "/campaigns/{campaign_id}/agents", response_model=Page[CampaignAgentRead], summary="List the assigned agents"
)
async def list_campaign_agents(
    _: AgentsReader, session: SessionDep, campaign_id: uuid.UUID, page: AgentPage
) -> Page[CampaignAgentRead]:
    return (await service.list_agents(session, campaign_id, page)).map(lambda agent: agent)


@router.post("/campaigns/{campaign_id}/agents", response_model=CampaignAgentsAssigned, summary="Assign agents")
async def assign_campaign_agents(
    _: CampaignsWriter, session: SessionDep, runtime: RuntimeDep, campaign_id: uuid.UUID, body: CampaignAgentsAssign
) -> CampaignAgentsAssigned:
    return await service.assign_agents(session, campaign_id, body, clock=runtime.clock)
