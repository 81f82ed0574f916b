"""Routes: /v1/agents/me/state (an agent, for itself), /v1/agents/{id}/state (supervisor, admin) and
GET /v1/agents/sip-registered (supervisor, admin).

GET /v1/agents/state, the board, is served by `engage.calls.api`: it carries each agent's call figures, and
agents sits below calls in the layers.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.openapi import problems
from engage.core.principal import Permission, Principal

from . import service
from .schemas import AgentStateChange, AgentStateRead, SipRegistrationRead, SipRegistrations

router = APIRouter(prefix="/v1", tags=["agents"])

AgentsReader = Annotated[Principal, Depends(require(Permission.agents_read))]
OwnStateChanger = Annotated[Principal, Depends(require(Permission.agents_state_self))]
StateManager = Annotated[Principal, Depends(require(Permission.agents_state_manage))]


@router.get("/agents/sip-registered", response_model=SipRegistrations, summary="SIP registration status")
async def sip_registered(_: AgentsReader, session: SessionDep) -> SipRegistrations:
    result = await service.sip_registered(session)
    return SipRegistrations(
        registered=[SipRegistrationRead.model_validate(row) for row in result.registered],
        total_registered=len(result.registered),
        total_agents=result.total_agents,
    )


@router.get(
    "/agents/me/state",
    response_model=AgentStateRead,
    summary="Your own status",
    responses=problems(403, descriptions={403: "You are not an agent (`not-an-agent`)"}),
)
async def get_own_state(principal: OwnStateChanger, session: SessionDep) -> AgentStateRead:
    return AgentStateRead.model_validate(await service.own_state(session, principal))


# Declared before /agents/{agent_id}/state, which would otherwise take "me" for a (malformed) id.
_ON_CALL = {409: "The agent is reserved for or on a call; the status can change once the call ends (`agent-on-call`)"}


@router.post(
    "/agents/me/state",
    response_model=AgentStateRead,
    summary="Change agent status",
    responses=problems(409, descriptions=_ON_CALL),
)
async def set_own_state(
    principal: OwnStateChanger, session: SessionDep, runtime: RuntimeDep, body: AgentStateChange
) -> AgentStateRead:
    availability = await service.set_own_state(session, principal, body, clock=runtime.clock)
    return AgentStateRead.model_validate(availability)


@router.post(
    "/agents/{agent_id}/state",
    response_model=AgentStateRead,
    summary="Change an agent's status",
    responses=problems(409, descriptions=_ON_CALL),
)
async def set_agent_state(
    principal: StateManager, session: SessionDep, runtime: RuntimeDep, agent_id: uuid.UUID, body: AgentStateChange
) -> AgentStateRead:
    availability = await service.set_state(session, principal, agent_id, body, clock=runtime.clock)
    return AgentStateRead.model_validate(availability)
