"""Every query on `recordings` and `recording_settings`.

Requests and the uploader's per-recording work run in a tenant-scoped transaction: row-level security keeps each
tenant to its own rows, so another tenant's id reads as absent. The uploader's claim and the retention purge's
look-up reach across tenants only through the two SECURITY DEFINER functions of migration 20261207_1000, which
hand out (tenant, id) pairs and nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, column, func, literal, select, update
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate

from .models import Recording, RecordingSettings, RecordingStatus


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    campaign_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    min_duration_seconds: int | None = None


async def add(session: AsyncSession, recording: Recording) -> Recording:
    session.add(recording)
    await session.flush()
    return recording


async def get(session: AsyncSession, recording_id: uuid.UUID, *, for_update: bool = False) -> Recording | None:
    """The tenant's recording (RLS hides every other tenant's). `for_update`: locked until the transaction ends,
    so a delete, the purge and the uploader act on it one after the other."""
    query = select(Recording).where(Recording.id == recording_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def get_by_call(session: AsyncSession, call_id: uuid.UUID, *, for_update: bool = False) -> Recording | None:
    query = select(Recording).where(Recording.call_id == call_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def list_stored(session: AsyncSession, params: PageParams, where: RecordingFilter) -> PageResult[Recording]:
    """Stored recordings, newest first; `recorded_from`/`recorded_to` inclusive."""
    query = select(Recording).where(Recording.status == RecordingStatus.stored.value)
    if where.campaign_id is not None:
        query = query.where(Recording.campaign_id == where.campaign_id)
    if where.agent_id is not None:
        query = query.where(Recording.agent_id == where.agent_id)
    if where.recorded_from is not None:
        query = query.where(Recording.recorded_at >= where.recorded_from)
    if where.recorded_to is not None:
        query = query.where(Recording.recorded_at <= where.recorded_to)
    if where.min_duration_seconds is not None:
        query = query.where(Recording.duration_seconds >= where.min_duration_seconds)
    return await paginate(session, query, Recording.id, params)


async def make_due(session: AsyncSession, call_id: uuid.UUID, at: datetime) -> None:
    """A pending recording still waiting for the switch to finish it becomes due at `at` (one the switch
    already finished keeps its own schedule)."""
    await session.execute(
        update(Recording)
        .where(
            Recording.call_id == call_id,
            Recording.status == RecordingStatus.pending.value,
            Recording.next_attempt_at.is_(None),
        )
        .values(next_attempt_at=at)
    )


_PAIR = (column("tenant_id", UUID(as_uuid=True)), column("recording_id", UUID(as_uuid=True)))


async def claim(
    session: AsyncSession, batch: int, lease_seconds: float, now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Up to `batch` due pending recordings of any tenant, each leased for `lease_seconds` and its attempt
    counted (`engage_recording_claim`)."""
    claimed = func.engage_recording_claim(
        literal(batch, Integer), literal(lease_seconds, Float), literal(now, DateTime(timezone=True))
    ).table_valued(*_PAIR)
    return [(row.tenant_id, row.recording_id) for row in (await session.execute(select(*claimed.c))).all()]


async def expired(session: AsyncSession, now: datetime, batch: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Up to `batch` stored recordings of any tenant older than that tenant's retention, oldest first."""
    rows = func.engage_recording_expired(literal(now, DateTime(timezone=True)), literal(batch, Integer)).table_valued(
        *_PAIR
    )
    return [(row.tenant_id, row.recording_id) for row in (await session.execute(select(*rows.c))).all()]


async def retention_days(session: AsyncSession) -> int | None:
    return await session.scalar(select(RecordingSettings.retention_days))


async def set_retention_days(session: AsyncSession, tenant_id: uuid.UUID, days: int | None, now: datetime) -> None:
    statement = insert(RecordingSettings).values(tenant_id=tenant_id, retention_days=days, updated_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[RecordingSettings.tenant_id],
            set_={"retention_days": statement.excluded.retention_days, "updated_at": statement.excluded.updated_at},
        )
    )
