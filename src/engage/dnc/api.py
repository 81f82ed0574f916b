"""Routes: /v1/dnc, the tenant's own do-not-call list (read, add: supervisor and admin; remove: admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal

from . import service
from .schemas import DncAdd, DncAddResult, DncRead

router = APIRouter(prefix="/v1", tags=["dnc"])

DncReader = Annotated[Principal, Depends(require(Permission.dnc_read))]
DncWriter = Annotated[Principal, Depends(require(Permission.dnc_write))]
DncDeleter = Annotated[Principal, Depends(require(Permission.dnc_delete))]
DncPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]


@router.get("/dnc", response_model=Page[DncRead], summary="List DNC records")
async def list_dnc(
    principal: DncReader,
    session: SessionDep,
    page: DncPage,
    phone: Annotated[str | None, Query(description="Only this number (any format the POST accepts)")] = None,
) -> Page[DncRead]:
    result = await service.list_entries(session, principal.tenant_id, page, phone=phone)
    return result.map(DncRead.model_validate)


@router.post(
    "/dnc",
    response_model=DncAddResult,
    status_code=status.HTTP_201_CREATED,
    summary="Add numbers to the DNC list",
    responses={413: {"description": f"More than {service.MAX_PHONES_PER_REQUEST} numbers; nothing is stored"}},
)
async def add_dnc(principal: DncWriter, session: SessionDep, runtime: RuntimeDep, body: DncAdd) -> DncAddResult:
    result = await service.add_from_request(session, principal, body, clock=runtime.clock)
    return DncAddResult.model_validate(result)


@router.delete(
    "/dnc/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a number from the DNC list",
)
async def remove_dnc(principal: DncDeleter, session: SessionDep, runtime: RuntimeDep, entry_id: uuid.UUID) -> Response:
    await service.remove(session, entry_id, removed_by=principal.user_id, clock=runtime.clock)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
