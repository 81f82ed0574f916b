"""Routes: /v1/users (admin) and /v1/teams (read: supervisor and admin; create: admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from engage.core.db import after_commit
from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.openapi import links, problems
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal, Role

from . import service
from .schemas import TeamCreate, TeamRead, UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/v1", tags=["users"])

UsersReader = Annotated[Principal, Depends(require(Permission.users_read))]
UsersWriter = Annotated[Principal, Depends(require(Permission.users_write))]
TeamsReader = Annotated[Principal, Depends(require(Permission.teams_read))]
TeamsWriter = Annotated[Principal, Depends(require(Permission.teams_write))]
UserPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]
TeamPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]


@router.get("/users", response_model=Page[UserRead], summary="List users")
async def list_users(
    _: UsersReader,
    session: SessionDep,
    page: UserPage,
    role: Annotated[Role | None, Query()] = None,
    team_id: Annotated[uuid.UUID | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> Page[UserRead]:
    result = await service.list_users(session, page, role=role, team_id=team_id, is_active=is_active)
    return result.map(UserRead.model_validate)


@router.post(
    "/users",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    responses=problems(
        409, descriptions={409: "The email or SIP user is already in use (`email-taken`, `sip-user-taken`)"}
    )
    | links(201, get_user={"user_id": "$response.body#/id"}, update_user={"user_id": "$response.body#/id"}),
)
async def create_user(principal: UsersWriter, session: SessionDep, runtime: RuntimeDep, body: UserCreate) -> UserRead:
    user = await service.create_user(session, principal.tenant_id, body, clock=runtime.clock)
    return UserRead.model_validate(user)


@router.get("/users/{user_id}", response_model=UserRead, summary="Get a user")
async def get_user(_: UsersReader, session: SessionDep, user_id: uuid.UUID) -> UserRead:
    return UserRead.model_validate(await service.get_user(session, user_id))


@router.patch("/users/{user_id}", response_model=UserRead, summary="Update a user")
async def update_user(
    principal: UsersWriter, session: SessionDep, runtime: RuntimeDep, user_id: uuid.UUID, body: UserUpdate
) -> UserRead:
    user = await service.update_user(session, principal, user_id, body, clock=runtime.clock)
    # Its access tokens are re-checked on their next request here (other processes: within the standing TTL).
    after_commit(session, lambda: runtime.access.forget(user_id))
    return UserRead.model_validate(user)


@router.get("/teams", response_model=Page[TeamRead], summary="List teams")
async def list_teams(_: TeamsReader, session: SessionDep, page: TeamPage) -> Page[TeamRead]:
    return (await service.list_teams(session, page)).map(TeamRead.model_validate)


@router.post(
    "/teams",
    response_model=TeamRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a team",
    responses=problems(409, descriptions={409: "A team of that name exists (`team-name-taken`)"})
    | links(201, list_users={"team_id": "$response.body#/id"}),
)
async def create_team(principal: TeamsWriter, session: SessionDep, runtime: RuntimeDep, body: TeamCreate) -> TeamRead:
    team = await service.create_team(session, principal.tenant_id, body, clock=runtime.clock)
    return TeamRead.model_validate(team)
