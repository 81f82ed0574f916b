"""Routes: /v1/recordings (seed "Recordings"): the list, one recording, its signed playback URL, deletion, and
the tenant's retention setting.

Listing and playing: every role (`recordings:read`); an agent sees only its own recordings (the service narrows
it). Deleting and setting the retention: admins (`recordings:manage`). The object store is the one the
composition root built (`app.state.store`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.openapi import problems
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal
from engage.core.schemas import Instant
from engage.storage.deps import StoreDep

from . import service
from .repository import RecordingFilter
from .schemas import PlaybackUrl, RecordingRead, RetentionRead, RetentionUpdate

router = APIRouter(prefix="/v1", tags=["recordings"])

RecordingsReader = Annotated[Principal, Depends(require(Permission.recordings_read))]
RecordingsManager = Annotated[Principal, Depends(require(Permission.recordings_manage))]
RecordingPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]


@router.get("/recordings", response_model=Page[RecordingRead], summary="List recordings")
async def list_recordings(
    principal: RecordingsReader,
    session: SessionDep,
    page: RecordingPage,
    campaign_id: Annotated[uuid.UUID | None, Query(description="Filter to campaign")] = None,
    agent_id: Annotated[uuid.UUID | None, Query(description="Filter to agent")] = None,
    recorded_from: Annotated[
        Instant | None, Query(alias="from", description="Recorded at or after (ISO-8601 UTC)")
    ] = None,
    recorded_to: Annotated[
        Instant | None, Query(alias="to", description="Recorded at or before (ISO-8601 UTC)")
    ] = None,
    min_duration: Annotated[int | None, Query(ge=0, le=86_400, description="Minimum duration in seconds")] = None,
) -> Page[RecordingRead]:
    where = RecordingFilter(
        campaign_id=campaign_id,
        agent_id=agent_id,
        recorded_from=recorded_from,
        recorded_to=recorded_to,
        min_duration_seconds=min_duration,
    )
    result = await service.list_recordings(session, principal, page, where)
    return result.map(RecordingRead.model_validate)


# The fixed path is declared before /recordings/{recording_id}, which would otherwise take it for a (bad) id.
@router.get("/recordings/retention", response_model=RetentionRead, summary="How long recordings are kept")
async def get_retention(principal: RecordingsReader, session: SessionDep) -> RetentionRead:
    return RetentionRead(retention_days=await service.retention(session))


@router.put("/recordings/retention", response_model=RetentionRead, summary="Set how long recordings are kept")
async def put_retention(
    principal: RecordingsManager, session: SessionDep, runtime: RuntimeDep, body: RetentionUpdate
) -> RetentionRead:
    await service.set_retention(session, principal.tenant_id, body.retention_days, now=runtime.clock.now())
    return RetentionRead(retention_days=body.retention_days)


@router.get(
    "/recordings/{recording_id}",
    response_model=RecordingRead,
    summary="Get a recording",
    responses=problems(409, descriptions={409: "The recording is still being uploaded to storage"}),
)
async def get_recording(principal: RecordingsReader, session: SessionDep, recording_id: uuid.UUID) -> RecordingRead:
    return RecordingRead.model_validate(await service.get_recording(session, principal, recording_id))


@router.get(
    "/recordings/{recording_id}/play",
    response_model=PlaybackUrl,
    summary="Get signed playback URL",
    responses=problems(
        409,
        503,
        descriptions={
            409: "The recording is still being uploaded to storage",
            503: "Recording storage cannot sign a URL right now",
        },
    ),
)
async def play_recording(
    principal: RecordingsReader, session: SessionDep, runtime: RuntimeDep, store: StoreDep, recording_id: uuid.UUID
) -> PlaybackUrl:
    return await service.play(session, principal, recording_id, store, now=runtime.clock.now())


@router.delete(
    "/recordings/{recording_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a recording",
    responses=problems(
        409,
        503,
        descriptions={
            409: "The recording is still being uploaded to storage",
            503: "Recording storage cannot delete right now; nothing changed",
        },
    ),
)
async def delete_recording(
    principal: RecordingsManager, session: SessionDep, runtime: RuntimeDep, store: StoreDep, recording_id: uuid.UUID
) -> Response:
    await service.delete(session, principal, recording_id, store, now=runtime.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
