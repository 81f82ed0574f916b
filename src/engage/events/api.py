"""Routes: GET /v1/events/stream (the tenant's events, live, as Server-Sent Events) and POST /v1/events/stream-token
(a 60-second token that opens a stream from a browser, where `EventSource` cannot send an `Authorization` header).

Any role may stream; an agent receives only the events about itself. The hub and the stream-token codec are built
by the composition root (`engage.main`) and reached here through `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from engage.core.deps import BearerCredentials, RuntimeDep, admit_claims, bearer_claims, declare_permission
from engage.core.errors import Forbidden, Unauthorized
from engage.core.openapi import problems
from engage.core.principal import Permission
from engage.core.runtime import Runtime
from engage.core.schemas import Text
from engage.core.security import AccessClaims, InvalidToken

from . import service
from .hub import EventHub
from .schemas import TYPES_DESCRIPTION, StreamTokenRead
from .service import Caller
from .tokens import StreamTokens

router = APIRouter(prefix="/v1/events", tags=["events"])

_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# No cache may keep the stream, and nginx must pass each event on as it comes rather than buffer the response.
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}

_EXAMPLE = (
    "retry: 3000\n: connected\n\n"
    "id: 01936f1e-5b2a-7c3d-8e4f-5a6b7c8d9e0f\nevent: agent.state_changed\n"
    'data: {"event_id":"01936f1e-5b2a-7c3d-8e4f-5a6b7c8d9e0f","event_type":"agent.state_changed",'
    '"tenant_id":"01936f00-0000-7000-8000-000000000001","occurred_at":"2026-06-12T10:00:00Z",'
    '"correlation_id":"01936f00-0000-7000-8000-000000000002","schema_version":"1",'
    '"payload":{"agent_id":"01936f00-0000-7000-8000-000000000002","state":"available"}}\n\n'
    ": heartbeat\n\n"
)


async def get_hub(request: Request) -> EventHub:
    hub: EventHub = request.app.state.event_hub
    return hub


async def get_stream_tokens(request: Request) -> StreamTokens:
    tokens: StreamTokens = request.app.state.stream_tokens
    return tokens


HubDep = Annotated[EventHub, Depends(get_hub)]
StreamTokensDep = Annotated[StreamTokens, Depends(get_stream_tokens)]


async def _caller(request: Request, runtime: Runtime, claims: AccessClaims) -> Caller:
    principal = await admit_claims(request, runtime, claims)
    if not principal.can(Permission.events_stream):
        raise Forbidden(f"Your role ({principal.role}) does not allow {Permission.events_stream}.")
    return Caller(principal=principal, session=claims)


async def session_caller(request: Request, runtime: RuntimeDep, credentials: BearerCredentials) -> Caller:
    """The bearer access token's caller (a stream token does not mint another)."""
    return await _caller(request, runtime, bearer_claims(runtime, credentials))


async def stream_caller(
    request: Request,
    runtime: RuntimeDep,
    tokens: StreamTokensDep,
    credentials: BearerCredentials,
    token: Annotated[
        Text | None,
        Query(description="A stream token from `POST /v1/events/stream-token` (access tokens are refused here)"),
    ] = None,
) -> Caller:
    """The caller of a stream: a stream token in the query (from a browser), else the bearer access token."""
    if token is None:
        return await _caller(request, runtime, bearer_claims(runtime, credentials))
    try:
        claims = tokens.verify(token, now=runtime.clock.now())
    except InvalidToken as exc:
        raise Unauthorized(
            "The stream token is invalid or has expired; get a new one from POST /v1/events/stream-token.",
            headers=_CHALLENGE,
        ) from exc
    return await _caller(request, runtime, claims)


declare_permission(session_caller, Permission.events_stream)
declare_permission(stream_caller, Permission.events_stream)


@router.post(
    "/stream-token",
    response_model=StreamTokenRead,
    summary="Get a token that opens an event stream from a browser",
)
async def create_stream_token(
    caller: Annotated[Caller, Depends(session_caller)], runtime: RuntimeDep, tokens: StreamTokensDep
) -> StreamTokenRead:
    return service.mint_stream_token(tokens, caller, now=runtime.clock.now())


@router.get(
    "/stream",
    response_class=StreamingResponse,
    summary="Follow the organisation's events live (Server-Sent Events)",
    description=(
        "A `text/event-stream` that does not end by itself: each event as `id:` (its `event_id`), `event:` (its "
        "type) and `data:` (the webhook envelope, one line of JSON), in commit order, each exactly once; `: "
        "heartbeat` comments while idle. Authenticate with `Authorization: Bearer <access token>`, or, from a "
        "browser's EventSource, `?token=<stream token>`. Resume with `Last-Event-ID` (or `last_event_id`). The "
        "stream ends when the session's access token expires. See docs/events.md."
    ),
    responses={
        200: {
            "description": "The stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}, "example": _EXAMPLE}},
        },
        **problems(
            503, descriptions={503: "This server is not serving live events now (starting or stopping); reconnect"}
        ),
    },
)
async def stream_events(
    caller: Annotated[Caller, Depends(stream_caller)],
    runtime: RuntimeDep,
    hub: HubDep,
    types: Annotated[Text | None, Query(description=TYPES_DESCRIPTION, examples=["call.*,agent.state_changed"])] = None,
    last_event_id: Annotated[
        Text | None, Query(description="Resume after this event (for a new EventSource; the header wins)")
    ] = None,
    last_event_id_header: Annotated[
        Text | None, Header(alias="Last-Event-ID", description="Resume after this event (sent by EventSource)")
    ] = None,
) -> StreamingResponse:
    stream = await service.open_stream(
        runtime, hub, caller, types=types, last_event_id=last_event_id_header or last_event_id
    )
    return StreamingResponse(stream.frames(), media_type="text/event-stream", headers=STREAM_HEADERS)
