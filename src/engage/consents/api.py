"""Routes: /v1/consents (read: every role, since agents dialling by hand check consent; record and withdraw:
supervisor and admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.openapi import links
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal

from . import service
from .schemas import ConsentCreate, ConsentRead, ConsentWithdraw

router = APIRouter(prefix="/v1", tags=["consents"])

ConsentsReader = Annotated[Principal, Depends(require(Permission.consents_read))]
ConsentsWriter = Annotated[Principal, Depends(require(Permission.consents_write))]
ConsentPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]

ACTIVE_DESCRIPTION = "Only records in effect now: granted, not expired, not withdrawn nor ended by a later withdrawal"


@router.get("/consents", response_model=Page[ConsentRead], summary="List consent records")
async def list_consents(
    principal: ConsentsReader,
    session: SessionDep,
    runtime: RuntimeDep,
    page: ConsentPage,
    phone: Annotated[str | None, Query(description="Only this number (any format the POST accepts)")] = None,
    active: Annotated[bool, Query(description=ACTIVE_DESCRIPTION)] = False,
) -> Page[ConsentRead]:
    result = await service.list_consents(
        session, principal.tenant_id, page, phone=phone, active=active, clock=runtime.clock
    )
    return result.map(ConsentRead.model_validate)


@router.post(
    "/consents",
    response_model=ConsentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record a consent",
    responses=links(201, withdraw_consent={"consent_id": "$response.body#/id"}),
)
async def record_consent(
    principal: ConsentsWriter, session: SessionDep, runtime: RuntimeDep, body: ConsentCreate
) -> ConsentRead:
    return ConsentRead.model_validate(await service.record(session, principal, body, clock=runtime.clock))


@router.post("/consents/{consent_id}/withdraw", response_model=ConsentRead, summary="Withdraw a consent")
async def withdraw_consent(
    principal: ConsentsWriter,
    session: SessionDep,
    runtime: RuntimeDep,
    consent_id: uuid.UUID,
    body: ConsentWithdraw | None = None,
) -> ConsentRead:
    consent = await service.withdraw(session, principal, consent_id, body, clock=runtime.clock)
    return ConsentRead.model_validate(consent)
