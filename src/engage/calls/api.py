"""Routes: /v1/calls (history, one call, today's figures, the live count) and GET /v1/agents/state (the agents'
board, served here because it carries each agent's call figures and agents sits below calls in the layers).

Calls: every role (`calls:read`); an agent sees only its own calls (the service narrows it). The board:
supervisors and admins (`agents:read`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from engage.agents.schemas import AgentBoard
from engage.core.deps import Reading, RuntimeDep, SessionDep, reading, require
from engage.core.openapi import problems
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal
from engage.core.responses import json_body, json_page, serialized
from engage.core.schemas import Instant

from . import service
from .models import Call, CallStatus
from .schemas import ActiveCalls, CallRead, CallsToday

router = APIRouter(prefix="/v1", tags=["calls"])

CallsReader = Annotated[Principal, Depends(require(Permission.calls_read))]
# The read routes' one dependency each (`core.deps.reading`): caller, permission and a read-only transaction.
CallsReads = Annotated[Reading, Depends(reading(Permission.calls_read), scope="function")]
BoardReads = Annotated[Reading, Depends(reading(Permission.agents_read), scope="function")]
CallPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]


_NO_CALLS = (0, 0)


def _read(call: Call) -> CallRead:
    return CallRead.model_validate(call)


@router.get("/calls", response_model=Page[CallRead], summary="List calls with filters")
async def list_calls(
    reads: CallsReads,
    page: CallPage,
    campaign_id: Annotated[uuid.UUID | None, Query(description="Only the calls of this campaign")] = None,
    agent_id: Annotated[uuid.UUID | None, Query(description="Only the calls of this agent")] = None,
    status: Annotated[CallStatus | None, Query()] = None,
    started_from: Annotated[
        Instant | None, Query(alias="from", description="Started at or after (ISO-8601 instant)")
    ] = None,
    started_to: Annotated[
        Instant | None, Query(alias="to", description="Started at or before (ISO-8601 instant)")
    ] = None,
) -> Response:
    result = await service.list_calls(
        reads.db,
        reads.principal,
        page,
        campaign_id=campaign_id,
        agent_id=agent_id,
        status=status,
        started_from=started_from,
        started_to=started_to,
    )
    return json_page(result)


# The fixed paths are declared before /calls/{call_id}, which would otherwise take them for (malformed) ids.
@router.get(
    "/calls/count-today",
    response_model=CallsToday,
    summary="Today's statistics",
    responses=problems(404, descriptions={404: "`campaign_id` is not a campaign of your organisation"}),
)
async def count_today(
    principal: CallsReader,
    session: SessionDep,
    runtime: RuntimeDep,
    campaign_id: Annotated[uuid.UUID | None, Query(description="Only the calls of this campaign")] = None,
) -> CallsToday:
    return await service.count_today(session, principal, campaign_id=campaign_id, clock=runtime.clock)


@router.get("/calls/active-count", response_model=ActiveCalls, summary="Live active call count")
async def active_count(reads: CallsReads) -> Response:
    return serialized(await service.active_count(reads.db, clock=reads.runtime.clock))


@router.get("/calls/{call_id}", response_model=CallRead, summary="Get a call")
async def get_call(principal: CallsReader, session: SessionDep, call_id: uuid.UUID) -> CallRead:
    return _read(await service.get_call(session, principal, call_id))


@router.get("/agents/state", response_model=AgentBoard, summary="Live agent states")
async def agent_board(
    reads: BoardReads,
    team_id: Annotated[uuid.UUID | None, Query(description="Only the agents of this team")] = None,
) -> Response:
    live = await service.board(reads.db, reads.principal.tenant_id, team_id=team_id, clock=reads.runtime.clock)
    # Written as plain values, not models (`core.responses`): a test holds the body to `AgentBoard`.
    for entry in live.board.agents:
        entry["calls_today"], entry["talk_time_today_seconds"] = live.figures.get(entry["id"], _NO_CALLS)
    return json_body({"agents": live.board.agents, "summary": live.board.summary})
