"""The recording pipeline: from the switch's file to a stored object, with retries that lose nothing, one
recording per call whatever happens twice, and the local file deleted only once the object is stored."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.recordings import service
from engage.recordings.models import Recording
from engage.recordings.uploader import Uploader, UploaderConfig, audio_facts
from engage.storage.local import LocalStore
from engage.storage.port import StorageError, StoredObject
from engage.telephony.sim.recording import write_wav
from engage.tenancy.models import Tenant

from ..stores import WrappedStore
from .conftest import Recorder, upload_until_settled


class FlakyStore(WrappedStore):
    """A real local store whose first `failures` uploads fail, as an unreachable S3 would."""

    def __init__(self, inner: LocalStore, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures
        self.puts = 0

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        self.puts += 1
        if self.puts <= self.failures:
            raise StorageError(f"put {key}: connection refused")
        return await self.inner.put_file(key, path, content_type=content_type)


async def _count_for_call(runtime: Runtime, tenant: Tenant, call_id: object) -> int:
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        return int(
            await session.scalar(select(func.count()).select_from(Recording).where(Recording.call_id == call_id)) or 0
        )


async def test_an_upload_that_fails_twice_then_succeeds_leaves_exactly_one_recording(
    runtime: Runtime,
    tenant: Tenant,
    recorder: Recorder,
    store: LocalStore,
    clock: ManualClock,
    uploader_config: UploaderConfig,
) -> None:
    flaky = FlakyStore(store, failures=2)
    uploader = Uploader(runtime.sessions, flaky, clock, uploader_config)
    recorded = await recorder.record(tenant, seconds=1)

    assert await upload_until_settled(recorder, uploader, tenant, recorded.recording_id) == "pending"
    first = await recorder.row(tenant, recorded.recording_id)
    assert first.attempts == 1
    assert first.next_attempt_at == clock.now() + timedelta(seconds=10)
    assert first.last_error is not None
    assert "connection refused" in first.last_error
    assert recorded.path.exists(), "the only copy must stay until the upload succeeds"
    await uploader.upload_due()
    assert (await recorder.row(tenant, recorded.recording_id)).attempts == 1, "not due again before its back-off"

    clock.advance(10)
    assert await upload_until_settled(recorder, uploader, tenant, recorded.recording_id) == "pending"
    second = await recorder.row(tenant, recorded.recording_id)
    assert second.next_attempt_at == clock.now() + timedelta(seconds=20), "the back-off doubles"

    clock.advance(20)
    assert await upload_until_settled(recorder, uploader, tenant, recorded.recording_id) == "stored"

    row = await recorder.row(tenant, recorded.recording_id)
    assert (row.attempts, row.size_bytes, row.duration_seconds, row.last_error) == (3, len(recorded.audio), 1, None)
    assert row.local_path is None
    assert not recorded.path.exists()
    assert (store.root / row.object_key).read_bytes() == recorded.audio
    assert await _count_for_call(runtime, tenant, recorded.call.id) == 1
    assert flaky.puts == 3


async def test_a_stop_reported_twice_and_a_restart_make_no_second_recording(
    runtime: Runtime, tenant: Tenant, recorder: Recorder, uploader: Uploader, clock: ManualClock
) -> None:
    recorded = await recorder.record(tenant)

    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        await service.recording_stopped(session, recorded.call.id, path=str(recorded.path), now=clock.now())
        again = await service.recording_started(session, recorded.call.id, path=str(recorded.path), now=clock.now())

    assert again is not None
    assert again.id == recorded.recording_id
    assert await upload_until_settled(recorder, uploader, tenant, recorded.recording_id) == "stored"
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        assert not await service.recording_stopped(session, recorded.call.id, path=str(recorded.path), now=clock.now())
    assert await _count_for_call(runtime, tenant, recorded.call.id) == 1


async def test_a_recording_is_not_uploaded_while_the_switch_is_still_writing_it(
    runtime: Runtime, tenant: Tenant, recorder: Recorder, uploader: Uploader, clock: ManualClock
) -> None:
    recorded = await recorder.record(tenant, stop=False)

    await uploader.upload_due()
    assert (await recorder.row(tenant, recorded.recording_id)).attempts == 0

    # The stop event never came: the call's end makes it due after the grace.
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        await service.call_ended(session, recorded.call.id, due_at=clock.now() + timedelta(seconds=30))
    await uploader.upload_due()
    assert (await recorder.row(tenant, recorded.recording_id)).attempts == 0
    clock.advance(30)
    assert await upload_until_settled(recorder, uploader, tenant, recorded.recording_id) == "stored"


async def test_a_missing_file_is_retried_then_the_recording_is_marked_failed_and_never_listed(
    tenant: Tenant, recorder: Recorder, uploader: Uploader, clock: ManualClock
) -> None:
    recorded = await recorder.record(tenant)
    recorded.path.unlink()

    statuses = []
    for _ in range(3):
        statuses.append(await upload_until_settled(recorder, uploader, tenant, recorded.recording_id))
        clock.advance(3600)

    assert statuses == ["pending", "pending", "failed"]
    row = await recorder.row(tenant, recorded.recording_id)
    assert row.last_error == "the recording file is not there"


async def test_a_file_outside_the_recordings_folder_is_never_uploaded(
    runtime: Runtime,
    tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
    store: LocalStore,
    tmp_path: Path,
    clock: ManualClock,
) -> None:
    recorded = await recorder.record(tenant, stop=False)
    outside = tmp_path / "elsewhere" / "secret.wav"
    write_wav(outside, 1)
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        await service.recording_stopped(session, recorded.call.id, path=str(outside), now=clock.now())

    assert await upload_until_settled(recorder, uploader, tenant, recorded.recording_id) == "failed"
    row = await recorder.row(tenant, recorded.recording_id)
    assert row.last_error == "the file lies outside the recordings folder"
    assert outside.exists()
    assert not (store.root / row.object_key).exists()


async def test_a_crashed_uploaders_recording_is_taken_again_when_its_lease_runs_out(
    runtime: Runtime, tenant: Tenant, recorder: Recorder, uploader: Uploader, clock: ManualClock
) -> None:
    recorded = await recorder.record(tenant)
    # Claimed by an uploader that then died: the lease holds it for `lease_seconds`.
    async with runtime.sessions() as session, session.begin():
        claimed = await service.claim(session, batch=1000, lease_seconds=900, now=clock.now())
    assert (tenant.id, recorded.recording_id) in claimed

    await uploader.upload_due()
    assert (await recorder.row(tenant, recorded.recording_id)).status == "pending"

    clock.advance(900)
    assert await upload_until_settled(recorder, uploader, tenant, recorded.recording_id) == "stored"


def test_a_wavs_duration_is_read_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    write_wav(path, 7.4)
    other = tmp_path / "a.mp3"
    other.write_bytes(b"ID3" + bytes(100))

    assert audio_facts(path).duration_seconds == 7
    assert audio_facts(path).size_bytes == path.stat().st_size
    assert audio_facts(other).duration_seconds is None
