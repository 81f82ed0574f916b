"""Routes: call control (POST /v1/calls/originate, /v1/calls/{id}/hangup, /v1/calls/{id}/disposition; every role,
an agent for itself and its own calls) and preview dialling (/v1/agents/me/preview*, agents only).

A compliance refusal is answered with the seed's 403 problem *returned*, not raised: the request's transaction
(`SessionDep`) rolls back on an exception, and the refusal's audit row and `call.compliance_blocked` event must
be committed. Returning the response lets the transaction commit as for any answer, before the 403 is sent.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse

from engage.calls.models import CallStatus
from engage.compliance.deps import EngineDep
from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.errors import problem_response
from engage.core.openapi import links, problems
from engage.core.principal import Permission, Principal

from . import control
from .schemas import (
    CallAccepted,
    CallControlRead,
    ComplianceAllowed,
    CurrentCallRead,
    DispositionRequest,
    HangupAccepted,
    OriginateRequest,
    PreviewCampaign,
    PreviewChoice,
    PreviewContact,
    PreviewRead,
    PreviewSkipped,
)

router = APIRouter(prefix="/v1")

CallController = Annotated[Principal, Depends(require(Permission.calls_control))]
PreviewDialler = Annotated[Principal, Depends(require(Permission.preview_dial))]

_BLOCKED = problems(
    status.HTTP_403_FORBIDDEN,
    descriptions={
        status.HTTP_403_FORBIDDEN: "Blocked by compliance (`compliance-blocked`, with `compliance: {allowed, rule, "
        "rule_version, audit_ref}`), or not allowed for this caller"
    },
)
_PREVIEW_CHOICE = problems(
    status.HTTP_404_NOT_FOUND,
    status.HTTP_409_CONFLICT,
    descriptions={
        status.HTTP_404_NOT_FOUND: "`contact_id` is not a contact of your organisation",
        status.HTTP_409_CONFLICT: "The contact is not held for you, or its campaign is not active",
    },
)
_CALL_LINKS = links(
    status.HTTP_202_ACCEPTED,
    get_call={"call_id": "$response.body#/call_id"},
    hangup={"call_id": "$response.body#/call_id"},
    disposition={"call_id": "$response.body#/call_id"},
)


def _answer(request: Request, outcome: control.Accepted | control.Refused) -> CallAccepted | JSONResponse:
    if isinstance(outcome, control.Refused):
        problem = outcome.problem()
        return problem_response(
            request,
            status=problem.status,
            slug=problem.slug,
            title=problem.title,
            detail=problem.detail,
            extra=problem.extra,
        )
    call, decision = outcome.call, outcome.decision
    return CallAccepted(
        call_id=call.id,
        status=CallStatus(call.status),
        destination=call.contact_phone,
        compliance=ComplianceAllowed(allowed=True, rule_version=decision.rule_version, audit_ref=decision.audit_ref),
    )


@router.post(
    "/calls/originate",
    tags=["calls"],
    response_model=CallAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_BLOCKED | _CALL_LINKS,
    summary="Originate a call",
)
async def originate(
    request: Request,
    principal: CallController,
    session: SessionDep,
    runtime: RuntimeDep,
    engine: EngineDep,
    body: OriginateRequest,
) -> CallAccepted | JSONResponse:
    outcome = await control.originate(session, principal, body, engine=engine, clock=runtime.clock)
    return _answer(request, outcome)


@router.post(
    "/calls/{call_id}/hangup",
    tags=["calls"],
    response_model=HangupAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Hang up a live call",
)
async def hangup(
    principal: CallController, session: SessionDep, runtime: RuntimeDep, call_id: uuid.UUID
) -> HangupAccepted:
    requested = await control.request_hangup(session, principal, call_id, clock=runtime.clock)
    return HangupAccepted(
        call_id=requested.call_id, status=requested.status, hangup_requested_at=requested.hangup_requested_at
    )


@router.post(
    "/calls/{call_id}/disposition", tags=["calls"], response_model=CallControlRead, summary="Disposition a call"
)
async def disposition(
    principal: CallController, session: SessionDep, runtime: RuntimeDep, call_id: uuid.UUID, body: DispositionRequest
) -> CallControlRead:
    call = await control.dispose(session, principal, call_id, body, clock=runtime.clock)
    return CallControlRead.model_validate(call)


@router.get(
    "/agents/me/call",
    tags=["agents"],
    response_model=CurrentCallRead,
    summary="The call on your desk: live, or ended and waiting for your disposition",
    responses=problems(403, descriptions={403: "You are not an agent (`not-an-agent`)"}),
)
async def get_current_call(principal: CallController, session: SessionDep, runtime: RuntimeDep) -> CurrentCallRead:
    desk = await control.current_call(session, principal, clock=runtime.clock)
    return CurrentCallRead(
        call=CallControlRead.model_validate(desk.call) if desk.call else None,
        contact=PreviewContact.model_validate(desk.contact) if desk.contact else None,
        campaign=PreviewCampaign.model_validate(desk.campaign) if desk.campaign else None,
    )


@router.get(
    "/agents/me/preview",
    tags=["agents"],
    response_model=PreviewRead,
    summary="The contact held for you to preview (reserved now if none is)",
    responses=problems(409, descriptions={409: "You are not available to preview (`agent-not-available`)"}),
)
async def get_preview(principal: PreviewDialler, session: SessionDep, runtime: RuntimeDep) -> PreviewRead:
    held = await control.preview(
        session, principal, clock=runtime.clock, hold_seconds=runtime.settings.dialer.preview_hold_seconds
    )
    return PreviewRead(
        contact=PreviewContact.model_validate(held.contact) if held.contact else None,
        campaign=PreviewCampaign.model_validate(held.campaign) if held.campaign else None,
        reserved_until=held.reserved_until,
    )


@router.post(
    "/agents/me/preview/dial",
    tags=["agents"],
    response_model=CallAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_BLOCKED | _PREVIEW_CHOICE | _CALL_LINKS,
    summary="Dial the previewed contact",
)
async def dial_preview(
    request: Request,
    principal: PreviewDialler,
    session: SessionDep,
    runtime: RuntimeDep,
    engine: EngineDep,
    body: PreviewChoice,
) -> CallAccepted | JSONResponse:
    outcome = await control.dial_preview(session, principal, body.contact_id, engine=engine, clock=runtime.clock)
    return _answer(request, outcome)


@router.post(
    "/agents/me/preview/skip",
    tags=["agents"],
    response_model=PreviewSkipped,
    summary="Skip the previewed contact",
    responses=_PREVIEW_CHOICE,
)
async def skip_preview(
    principal: PreviewDialler, session: SessionDep, runtime: RuntimeDep, body: PreviewChoice
) -> PreviewSkipped:
    skipped = await control.skip_preview(session, principal, body.contact_id, clock=runtime.clock)
    return PreviewSkipped(contact_id=skipped.contact_id, next_attempt_at=skipped.next_attempt_at)
