"""Fixtures for recordings: the app with a local object store under the test's own folder, and recorded calls
put through the real pipeline (the dialer's hand-over, a real WAV file on disk, the uploader, the store).

The clock is the suite's `ManualClock` (2026-06-12T10:00Z); the store signs and checks URLs with it, so a test
expires a URL by advancing the clock.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from engage.calls.models import Call, CallOrigin, CallStatus
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.runtime import Runtime
from engage.recordings import service
from engage.recordings.models import Recording
from engage.recordings.uploader import Uploader, UploaderConfig
from engage.storage.local import LocalStore
from engage.telephony.sim.recording import write_wav
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..local_store_app import client, settings, store  # noqa: F401 - fixtures for this package


@pytest.fixture
def recordings_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    folder.mkdir()
    return folder


@pytest.fixture
def uploader_config(recordings_dir: Path) -> UploaderConfig:
    return UploaderConfig(recordings_dir=recordings_dir, retry_base_seconds=10, missing_file_attempts=3)


@pytest.fixture
def uploader(
    runtime: Runtime,
    store: LocalStore,  # noqa: F811 - the fixture imported above
    clock: ManualClock,
    uploader_config: UploaderConfig,
) -> Uploader:
    return Uploader(runtime.sessions, store, clock, uploader_config)


@dataclass
class RecordedCall:
    call: Call
    recording_id: uuid.UUID
    audio: bytes
    path: Path


@dataclass
class Recorder:
    """Calls recorded as the dialer leaves them: a bridged, completed call row, the switch's WAV file, and the
    dialer's two hand-overs (recording started, recording stopped)."""

    runtime: Runtime
    recordings_dir: Path
    clock: ManualClock

    async def record(
        self,
        tenant: Tenant,
        *,
        agent: User | None = None,
        campaign_id: uuid.UUID | None = None,
        seconds: float = 2.0,
        phone: str | None = None,
        at: datetime | None = None,
        stop: bool = True,
    ) -> RecordedCall:
        now = at or self.clock.now()
        call = Call(
            id=new_id(),
            tenant_id=tenant.id,
            campaign_id=campaign_id,
            agent_id=agent.id if agent is not None else None,
            contact_phone=phone or f"+97150{secrets.randbelow(10_000_000):07d}",
            direction="outbound",
            origin=CallOrigin.dialer.value,
            status=CallStatus.completed.value,
            abandoned=False,
            started_at=now,
            answered_at=now,
            bridged_at=now,
            ended_at=now,
            talk_time_seconds=round(seconds),
        )
        path = self.recordings_dir / str(tenant.id) / f"{call.id}.wav"
        write_wav(path, seconds)
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            session.add(call)
            await session.flush()
            recording = await service.recording_started(session, call.id, path=str(path), now=now)
            assert recording is not None
            if stop:
                # Stopped (due for upload) now, whenever it was recorded.
                assert await service.recording_stopped(session, call.id, path=str(path), now=self.clock.now())
        return RecordedCall(call=call, recording_id=recording.id, audio=path.read_bytes(), path=path)

    async def row(self, tenant: Tenant, recording_id: uuid.UUID) -> Recording:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            found = await session.get(Recording, recording_id)
            assert found is not None
            return found

    async def call(self, tenant: Tenant, call_id: uuid.UUID) -> Call:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            found = await session.get(Call, call_id)
            assert found is not None
            return found


@pytest.fixture
def recorder(runtime: Runtime, recordings_dir: Path, clock: ManualClock) -> Recorder:
    return Recorder(runtime, recordings_dir, clock)


async def upload_until_settled(recorder: Recorder, uploader: Uploader, tenant: Tenant, recording_id: uuid.UUID) -> str:
    """Run the uploader until this recording has been tried (the run's database is shared: recordings other
    tests left due may fill a batch first); its status then."""
    for _ in range(50):
        before = await recorder.row(tenant, recording_id)
        await uploader.upload_due()
        after = await recorder.row(tenant, recording_id)
        if after.status != "pending" or after.attempts > before.attempts:
            return after.status
    raise AssertionError(f"recording {recording_id} was never claimed")


async def stored(recorder: Recorder, uploader: Uploader, tenant: Tenant, **options: object) -> RecordedCall:
    """A recorded call whose recording the uploader has stored."""
    recorded = await recorder.record(tenant, **options)  # type: ignore[arg-type]
    assert await upload_until_settled(recorder, uploader, tenant, recorded.recording_id) == "stored"
    return recorded
