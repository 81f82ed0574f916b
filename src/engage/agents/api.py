"""Routes: /v1/agents/me/state (an agent, for itself), /v1/agents/{id}/state (supervisor, admin) and
GET /v1/agents/state (supervisor, admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.principal import Permission, Principal

from . import service
from .schemas import AgentBoard, AgentOnBoard, AgentStateChange, AgentStateRead, AgentSummary

router = APIRouter(prefix="/v1", tags=["agents"])

AgentsReader = Annotated[Principal, Depends(require(Permission.agents_read))]
OwnStateChanger = Annotated[Principal, Depends(require(Permission.agents_state_self))]
StateManager = Annotated[Principal, Depends(require(Permission.agents_state_manage))]


@router.get("/agents/state", response_model=AgentBoard, summary="Live agent states")
async def agent_board(
    _: AgentsReader,
    session: SessionDep,
    team_id: Annotated[uuid.UUID | None, Query(description="Only the agents of this team")] = None,
) -> AgentBoard:
    result = await service.board(session, team_id=team_id)
    return AgentBoard(
        agents=[AgentOnBoard.model_validate(entry) for entry in result.agents],
        summary=AgentSummary.model_validate(result.summary),
    )


# Declared before /agents/{agent_id}/state, which would otherwise take "me" for a (malformed) id.
@router.post("/agents/me/state", response_model=AgentStateRead, summary="Change agent status")
async def set_own_state(
    principal: OwnStateChanger, session: SessionDep, runtime: RuntimeDep, body: AgentStateChange
) -> AgentStateRead:
    availability = await service.set_own_state(session, principal, body, clock=runtime.clock)
    return AgentStateRead.model_validate(availability)


@router.post("/agents/{agent_id}/state", response_model=AgentStateRead, summary="Change an agent's status")
async def set_agent_state(
    principal: StateManager, session: SessionDep, runtime: RuntimeDep, agent_id: uuid.UUID, body: AgentStateChange
) -> AgentStateRead:
    availability = await service.set_state(session, principal, agent_id, body, clock=runtime.clock)
    return AgentStateRead.model_validate(availability)
