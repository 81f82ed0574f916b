"""Routes: /v1/cli-groups (read: supervisor and admin; create: admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.openapi import links, problems
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal

from . import service
from .schemas import CliGroupCreate, CliGroupRead

router = APIRouter(prefix="/v1", tags=["cli_groups"])

CliGroupsReader = Annotated[Principal, Depends(require(Permission.cli_groups_read))]
CliGroupsWriter = Annotated[Principal, Depends(require(Permission.cli_groups_write))]
CliGroupPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]


@router.get("/cli-groups", response_model=Page[CliGroupRead], summary="List CLI groups")
async def list_cli_groups(_: CliGroupsReader, session: SessionDep, page: CliGroupPage) -> Page[CliGroupRead]:
    return (await service.list_groups(session, page)).map(CliGroupRead.of)


@router.post(
    "/cli-groups",
    response_model=CliGroupRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a CLI group",
    responses=problems(
        409, descriptions={409: "The name or a number is taken (`cli-group-name-taken`, `cli-number-taken`)"}
    )
    | links(201, get_cli_group={"cli_group_id": "$response.body#/id"}),
)
async def create_cli_group(
    principal: CliGroupsWriter, session: SessionDep, runtime: RuntimeDep, body: CliGroupCreate
) -> CliGroupRead:
    group = await service.create_group(session, principal.tenant_id, body, clock=runtime.clock)
    return CliGroupRead.of(group)


@router.get("/cli-groups/{cli_group_id}", response_model=CliGroupRead, summary="Get a CLI group")
async def get_cli_group(_: CliGroupsReader, session: SessionDep, cli_group_id: uuid.UUID) -> CliGroupRead:
    return CliGroupRead.of(await service.get_group(session, cli_group_id))
