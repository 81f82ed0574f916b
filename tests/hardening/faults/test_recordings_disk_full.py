"""Disk full for recordings, under a real worker dialling through the switch simulator: the file system answers
ENOSPC when a recordings folder or the local object store's staging file is created (`FullDisk`; a real tiny
filesystem needs root).

The rules: a call goes on without its recording (dialled, bridged, completed, the campaign finishes), an upload
that hits the full disk keeps the local file and is retried, and `engage_recording_failures_total
{reason="disk_full"}` rises on /metrics so someone is told. Once there is room again, calls are recorded and every
kept recording is stored. No existing test covered a full disk (the metric is new with these tests).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from engage.core.runtime import Runtime
from engage.dialer.worker import WorkerConfig
from engage.recordings.uploader import Uploader, UploaderConfig
from engage.storage.local import LocalStore

from ...dialer.conftest import Dialer, Reader, ended, eventually, make_floor
from ...factories import Factory
from .conftest import FullDisk, LocalCopies, recordings_of, scrape

METRIC = "engage_recording_failures_total"


async def test_with_the_recordings_disk_full_calls_go_on_unrecorded_and_the_disk_full_alert_rises(
    dialer: Dialer,
    full_disk: FullDisk,
    factory: Factory,
    runtime: Runtime,
    reader: Reader,
    worker_config: WorkerConfig,
    client: httpx.AsyncClient,
) -> None:
    full_disk.roots.append(worker_config.recordings_dir.resolve())
    full_disk.full = True
    before = await scrape(client, METRIC, reason="disk_full")
    floor = await make_floor(factory, runtime, contacts_count=2, agents_count=2, wrap_up_seconds=1)
    await dialer.add_worker()

    calls = await eventually(lambda: reader.calls(floor), lambda found: len(found) == 2 and ended(found), "the calls")

    assert sorted(call.contact_phone for call in calls) == sorted(floor.phones)
    assert all(call.status == "completed" and call.bridged_at is not None for call in calls)
    assert all(call.recording_id is None for call in calls)
    assert {c.status for c in await reader.contacts(floor)} == {"completed"}
    assert await recordings_of(runtime, floor) == []
    assert await scrape(client, METRIC, reason="disk_full") == before + len(calls)

    # Room again: the next call is recorded, and nothing more is counted.
    full_disk.full = False
    later = await make_floor(factory, runtime, contacts_count=1, agents_count=1, wrap_up_seconds=1)
    [call] = await eventually(lambda: reader.calls(later), ended, "the call after the disk has room")
    assert call.recording_id is not None
    spooled = worker_config.recordings_dir / str(later.tenant.id) / f"{call.id}.wav"
    await eventually(lambda: asyncio.to_thread(spooled.is_file), bool, "the switch's file")
    assert await scrape(client, METRIC, reason="disk_full") == before + len(calls)


@pytest.fixture
async def local_store(tmp_path_factory: pytest.TempPathFactory, runtime: Runtime) -> LocalStore:
    """The default object store (a local folder), on a disk of its own."""
    root: Path = tmp_path_factory.mktemp("objects")
    return LocalStore(root, public_url="http://engage.test", signing_key=secrets.token_bytes(32), clock=runtime.clock)


@pytest.fixture
async def uploading(
    runtime: Runtime, dialer: Dialer, worker_config: WorkerConfig, local_store: LocalStore
) -> AsyncIterator[Uploader]:
    # Retries a second apart at first (doubling): real time is what passes between them here.
    config = UploaderConfig(recordings_dir=worker_config.recordings_dir, poll_seconds=0.05, retry_base_seconds=1.0)
    uploader = Uploader(runtime.sessions, local_store, dialer.clock, config)
    stop = asyncio.Event()
    task = asyncio.create_task(uploader.run(stop))
    yield uploader
    stop.set()
    await asyncio.wait_for(task, 30)


async def test_with_the_object_stores_disk_full_recordings_are_kept_retried_and_stored_once_there_is_room(
    dialer: Dialer,
    uploading: Uploader,
    local_store: LocalStore,
    full_disk: FullDisk,
    factory: Factory,
    runtime: Runtime,
    reader: Reader,
    worker_config: WorkerConfig,
    client: httpx.AsyncClient,
) -> None:
    full_disk.roots.append(local_store.root)
    full_disk.full = True
    before = await scrape(client, METRIC, reason="disk_full")
    floor = await make_floor(factory, runtime, contacts_count=2, agents_count=2, wrap_up_seconds=1)
    copies = LocalCopies(runtime, floor, worker_config.recordings_dir)
    await dialer.add_worker()

    calls = await eventually(lambda: reader.calls(floor), lambda found: len(found) == 2 and ended(found), "the calls")
    assert {call.status for call in calls} == {"completed"}
    full = await eventually(
        copies.probe,
        lambda rows: len(rows) == 2 and all(r.attempts >= 2 and r.call_id in copies.seen for r in rows),
        "two failed uploads of every recording",
    )
    assert {row.status for row in full} == {"pending"}
    assert all("No space left on device" in (row.last_error or "") for row in full)
    # A second claim means the first upload failed, and was counted (a claim counts its attempt up front).
    assert await scrape(client, METRIC, reason="disk_full") >= before + len(full)

    full_disk.full = False
    dialer.clock.advance(120)  # past any back-off reached meanwhile: the next try is due now
    stored = await eventually(
        copies.probe, lambda rows: all(row.status == "stored" for row in rows), "every recording stored"
    )

    assert sorted(row.id for row in stored) == sorted(call.recording_id for call in calls if call.recording_id)
    assert list(copies.folder.glob("*.wav")) == []
    for row in stored:
        assert (local_store.root / row.object_key).read_bytes() == copies.seen[row.call_id]
