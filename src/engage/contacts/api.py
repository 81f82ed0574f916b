"""Routes: /v1/campaigns/{id}/contacts (upload: supervisor and admin; list: everyone) and
/v1/contacts/search (everyone)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from engage.core.deps import Reading, RuntimeDep, SessionDep, reading, require
from engage.core.openapi import problems
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal
from engage.core.responses import json_body

from . import service
from .schemas import ContactRead, ContactSearch, ContactStatus, ContactUpload, SearchResult, UploadResult

router = APIRouter(prefix="/v1", tags=["contacts"])

ContactsReader = Annotated[Principal, Depends(require(Permission.contacts_read))]
ContactsWriter = Annotated[Principal, Depends(require(Permission.contacts_write))]
ContactPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]
# The search's one dependency (`core.deps.reading`): caller, permission and a read-only transaction.
Searching = Annotated[Reading, Depends(reading(Permission.contacts_read), scope="function")]


@router.post(
    "/campaigns/{campaign_id}/contacts",
    response_model=UploadResult,
    status_code=status.HTTP_201_CREATED,
    summary="Upload contacts",
)
async def upload_contacts(
    principal: ContactsWriter, session: SessionDep, runtime: RuntimeDep, campaign_id: uuid.UUID, body: ContactUpload
) -> UploadResult:
    return await service.upload(session, principal.tenant_id, campaign_id, body, clock=runtime.clock)


@router.get("/campaigns/{campaign_id}/contacts", response_model=Page[ContactRead], summary="List contacts in campaign")
async def list_contacts(
    _: ContactsReader,
    session: SessionDep,
    page: ContactPage,
    campaign_id: uuid.UUID,
    status: Annotated[ContactStatus | None, Query()] = None,
) -> Page[ContactRead]:
    result = await service.list_contacts(session, campaign_id, page, status=status)
    return result.map(ContactRead.model_validate)


@router.post(
    "/contacts/search",
    response_model=SearchResult,
    summary="Search contacts",
    responses=problems(404, descriptions={404: "`campaign_id` is not a campaign of your organisation"}),
)
async def search_contacts(scope: Searching, body: ContactSearch) -> Response:
    # Written as plain values (`core.responses.json_body`): a test holds the body to `SearchResult`.
    return json_body(await service.search(scope.db, scope.principal.tenant_id, body))
