"""Recordings' use cases: the dialer's hand-over (a recording started, stopped, its call ended), the uploader's
steps (what to upload, stored, retry, failed), the retention purge's, and the API's (list, play, delete,
retention). Flushes, never commits: the caller owns the transaction.

Invariants: one recording per call (`uq_recordings_call_id`), so an upload that is retried, or a stop event
that comes twice, never makes a second; the object key is fixed when the recording starts, so a retried upload
replaces the same object; a client never sees a storage key or a file path, and an agent sees only its own
recordings.
"""

from __future__ import annotations

import errno
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from engage.calls import service as calls_service
from engage.core.errors import ValidationFailed
from engage.core.ids import new_id
from engage.core.pagination import PageParams, PageResult
from engage.core.principal import Principal
from engage.storage.port import ObjectStore, StorageError
from engage.users import service as users_service

from . import repository
from .errors import RecordingNotFound, RecordingNotReady, StorageUnavailable
from .models import DeletionReason, Recording, RecordingStatus
from .repository import RecordingFilter
from .schemas import PLAY_URL_SECONDS, PlaybackUrl

log = structlog.get_logger("engage.recordings")

# What a file's suffix says it holds; anything else is stored as what the switch wrote, typed as octet-stream.
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg"}
_MAX_FORMAT = 8
_MAX_ERROR = 500

FAILURES = Counter(
    "engage_recording_failures_total",
    "Recordings this machine could not write, by reason: disk_full (no space left, ENOSPC or EDQUOT, in the "
    "recordings folder or the local object store; alert on any increase), local_error (another file-system error "
    "there), switch_error (the switch would not start the recording). The call goes on without its recording; "
    "an upload that hit a full disk is retried.",
    ["reason"],
)
for _reason in ("disk_full", "local_error", "switch_error"):
    # Every series from 0 at start: an alert on `increase(...)` then fires on the very first failure.
    FAILURES.labels(_reason)
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# An error's causes are followed this deep at most: a chain is two or three links in practice.
_MAX_CAUSES = 8


def failure_reason(error: BaseException) -> str:
    """`disk_full` when the file system ran out of space (the error, or one it was raised from: a store wraps the
    OSError in its StorageError), else `local_error`."""
    found: BaseException | None = error
    for _ in range(_MAX_CAUSES):
        if found is None:
            break
        if isinstance(found, OSError) and found.errno in _DISK_FULL:
            return "disk_full"
        found = found.__cause__ or found.__context__
    return "local_error"


def _format_of(path: str) -> str:
    suffix = PurePath(path).suffix.lstrip(".").lower()
    return suffix[:_MAX_FORMAT] if suffix.isalnum() else "bin"


def content_type(recording_format: str) -> str:
    return CONTENT_TYPES.get(recording_format, "application/octet-stream")


def object_key(tenant_id: uuid.UUID, recording_id: uuid.UUID, recorded_at: datetime, recording_format: str) -> str:
    """`recordings/<tenant>/<yyyy>/<mm>/<dd>/<id>.<format>`: one prefix per tenant (a bucket policy or a
    lifecycle rule can target it) and per day (listing a day stays cheap in any store)."""
    return f"recordings/{tenant_id}/{recorded_at:%Y/%m/%d}/{recording_id}.{recording_format}"


# -- the dialer's hand-over ----------------------------------------------------------------------------------------


async def recording_started(session: AsyncSession, call_id: uuid.UUID, *, path: str, now: datetime) -> Recording | None:
    """The switch is recording the call into `path`: the recording exists from now (pending, not yet due), and
    the call names it. None when the call is not the tenant's. Idempotent per call."""
    existing = await repository.get_by_call(session, call_id)
    if existing is not None:
        return existing
    call = await calls_service.find_call(session, call_id)
    if call is None:
        return None
    agent = await users_service.find_user(session, call.agent_id) if call.agent_id is not None else None
    recording_id = new_id()
    recording_format = _format_of(path)
    recording = await repository.add(
        session,
        Recording(
            id=recording_id,
            tenant_id=call.tenant_id,
            call_id=call.id,
            agent_id=call.agent_id,
            agent_name=agent.full_name if agent is not None else None,
            campaign_id=call.campaign_id,
            contact_phone=call.contact_phone,
            status=RecordingStatus.pending.value,
            format=recording_format,
            object_key=object_key(call.tenant_id, recording_id, now, recording_format),
            local_path=path,
            recorded_at=now,
            attempts=0,
            next_attempt_at=None,
            created_at=now,
        ),
    )
    calls_service.attach_recording(call, recording.id)
    return recording


async def recording_stopped(session: AsyncSession, call_id: uuid.UUID, *, path: str, now: datetime) -> bool:
    """The switch finished the file: the recording is due for upload now. A stop for a recording this process
    never saw start (a restarted worker) creates it. Whether there is a pending recording to upload."""
    recording = await repository.get_by_call(session, call_id, for_update=True)
    if recording is None:
        recording = await recording_started(session, call_id, path=path, now=now)
        if recording is None:
            return False
    if recording.status != RecordingStatus.pending.value:
        return False
    if path:
        recording.local_path = path
    if recording.next_attempt_at is None:
        recording.next_attempt_at = now
    return True


async def call_ended(session: AsyncSession, call_id: uuid.UUID, *, due_at: datetime) -> None:
    """The call is over: a recording whose stop event never came is due at `due_at` anyway (the switch closes
    the file when the channel hangs up)."""
    await repository.make_due(session, call_id, due_at)


# -- the uploader ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadJob:
    recording_id: uuid.UUID
    tenant_id: uuid.UUID
    call_id: uuid.UUID
    object_key: str
    local_path: str | None
    format: str
    attempts: int


async def claim(
    session: AsyncSession, *, batch: int, lease_seconds: float, now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    return await repository.claim(session, batch, lease_seconds, now)


async def upload_job(session: AsyncSession, recording_id: uuid.UUID) -> UploadJob | None:
    """What to upload for a claimed recording; None when it is no longer pending (deleted meanwhile)."""
    recording = await repository.get(session, recording_id)
    if recording is None or recording.status != RecordingStatus.pending.value:
        return None
    return UploadJob(
        recording_id=recording.id,
        tenant_id=recording.tenant_id,
        call_id=recording.call_id,
        object_key=recording.object_key,
        local_path=recording.local_path,
        format=recording.format,
        attempts=recording.attempts,
    )


async def mark_stored(
    session: AsyncSession, recording_id: uuid.UUID, *, size_bytes: int, duration_seconds: int | None, now: datetime
) -> bool:
    """The object is in storage: the recording is listed and playable from now. `duration_seconds` None (a
    format whose length we do not read) takes the call's talk time. False when it was no longer pending."""
    recording = await repository.get(session, recording_id, for_update=True)
    if recording is None or recording.status != RecordingStatus.pending.value:
        return False
    if duration_seconds is None:
        call = await calls_service.find_call(session, recording.call_id)
        duration_seconds = (call.talk_time_seconds if call is not None else None) or 0
    recording.status = RecordingStatus.stored.value
    recording.size_bytes = size_bytes
    recording.duration_seconds = duration_seconds
    recording.stored_at = now
    recording.local_path = None
    recording.next_attempt_at = None
    recording.last_error = None
    return True


async def mark_retry(session: AsyncSession, recording_id: uuid.UUID, *, error: str, retry_at: datetime) -> None:
    recording = await repository.get(session, recording_id, for_update=True)
    if recording is None or recording.status != RecordingStatus.pending.value:
        return
    recording.last_error = error[:_MAX_ERROR]
    recording.next_attempt_at = retry_at


async def mark_failed(session: AsyncSession, recording_id: uuid.UUID, *, error: str) -> None:
    """The audio cannot be uploaded, ever (its file is gone, or lies outside the recordings folder): the row
    stays, with why, for the operator; nothing is listed."""
    recording = await repository.get(session, recording_id, for_update=True)
    if recording is None or recording.status != RecordingStatus.pending.value:
        return
    recording.status = RecordingStatus.failed.value
    recording.last_error = error[:_MAX_ERROR]
    recording.next_attempt_at = None


# -- retention ------------------------------------------------------------------------------------------------------


async def expired(session: AsyncSession, *, now: datetime, batch: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    return await repository.expired(session, now, batch)


async def purge(session: AsyncSession, recording_id: uuid.UUID, store: ObjectStore, *, now: datetime) -> bool:
    """Delete an expired recording's object and keep its row as the trace. Raises StorageError (the row is
    unchanged then, and the next purge tries again)."""
    recording = await repository.get(session, recording_id, for_update=True)
    if recording is None or recording.status != RecordingStatus.stored.value:
        return False
    await store.delete(recording.object_key)
    _tombstone(recording, reason=DeletionReason.retention, by=None, now=now)
    return True


def _tombstone(recording: Recording, *, reason: DeletionReason, by: uuid.UUID | None, now: datetime) -> None:
    recording.status = RecordingStatus.deleted.value
    recording.deleted_at = now
    recording.deleted_by = by
    recording.deletion_reason = reason.value
    log.info(
        "recording.deleted",
        tenant_id=str(recording.tenant_id),
        recording_id=str(recording.id),
        call_id=str(recording.call_id),
        reason=reason.value,
        deleted_by=str(by) if by is not None else None,
    )


# -- the API --------------------------------------------------------------------------------------------------------


_EMPTY: PageResult[Recording] = PageResult(rows=[], total=0, next_cursor=None, has_more=False)


async def list_recordings(
    session: AsyncSession, principal: Principal, params: PageParams, where: RecordingFilter
) -> PageResult[Recording]:
    if where.recorded_from is not None and where.recorded_to is not None and where.recorded_from > where.recorded_to:
        raise ValidationFailed(
            "from: must not be after to", extra={"errors": [{"field": "from", "message": "must not be after to"}]}
        )
    own = principal.own_agent_id
    if own is not None:
        if where.agent_id is not None and where.agent_id != own:
            return _EMPTY  # a colleague's recordings: none of the agent's, like any filter matching nothing
        where = RecordingFilter(
            campaign_id=where.campaign_id,
            agent_id=own,
            recorded_from=where.recorded_from,
            recorded_to=where.recorded_to,
            min_duration_seconds=where.min_duration_seconds,
        )
    return await repository.list_stored(session, params, where)


async def _visible(
    session: AsyncSession, principal: Principal, recording_id: uuid.UUID, *, for_update: bool = False
) -> Recording:
    recording = await repository.get(session, recording_id, for_update=for_update)
    own = principal.own_agent_id
    if recording is None or (own is not None and recording.agent_id != own):
        raise RecordingNotFound(f"No recording {recording_id} in your organisation.")
    return recording


def _require_stored(recording: Recording) -> Recording:
    if recording.status == RecordingStatus.stored.value:
        return recording
    if recording.status == RecordingStatus.pending.value:
        raise RecordingNotReady(
            f"Recording {recording.id} is still being uploaded to storage; try again in a few seconds.",
            headers={"Retry-After": "5"},
        )
    if recording.status == RecordingStatus.deleted.value and recording.deleted_at is not None:
        raise RecordingNotFound(
            f"Recording {recording.id} was deleted ({recording.deletion_reason}).",
            extra={"deleted_at": recording.deleted_at.isoformat().replace("+00:00", "Z")},
        )
    raise RecordingNotFound(f"Recording {recording.id} could not be stored: its audio was lost.")


async def get_recording(session: AsyncSession, principal: Principal, recording_id: uuid.UUID) -> Recording:
    return _require_stored(await _visible(session, principal, recording_id))


async def play(
    session: AsyncSession, principal: Principal, recording_id: uuid.UUID, store: ObjectStore, *, now: datetime
) -> PlaybackUrl:
    """A fresh URL the caller's player can fetch the audio from for the next hour, without a token."""
    recording = _require_stored(await _visible(session, principal, recording_id))
    try:
        signed = await store.presign_get(recording.object_key, expires_in=timedelta(seconds=PLAY_URL_SECONDS), now=now)
    except StorageError as exc:
        raise StorageUnavailable("Recording storage cannot sign a playback URL right now; try again shortly.") from exc
    return PlaybackUrl(
        id=recording.id,
        url=signed.url,
        expires_at=signed.expires_at,
        format=recording.format,
        duration_seconds=recording.duration_seconds or 0,
    )


async def delete(
    session: AsyncSession, principal: Principal, recording_id: uuid.UUID, store: ObjectStore, *, now: datetime
) -> None:
    """Remove the audio from storage; the row stays as the trace of who deleted it and when. A recording still on
    its way to storage is a 409 (its file is on the worker's disk, out of this process's reach): delete it once
    stored."""
    recording = await _visible(session, principal, recording_id, for_update=True)
    if recording.status == RecordingStatus.deleted.value:
        raise RecordingNotFound(f"Recording {recording.id} was already deleted.")
    if recording.status == RecordingStatus.pending.value:
        _require_stored(recording)
    if recording.status == RecordingStatus.stored.value:
        try:
            await store.delete(recording.object_key)
        except StorageError as exc:
            raise StorageUnavailable("Recording storage cannot delete right now; nothing was changed.") from exc
    _tombstone(recording, reason=DeletionReason.admin, by=principal.user_id, now=now)


async def retention(session: AsyncSession) -> int | None:
    return await repository.retention_days(session)


async def set_retention(session: AsyncSession, tenant_id: uuid.UUID, days: int | None, *, now: datetime) -> None:
    await repository.set_retention_days(session, tenant_id, days, now)
