"""Object storage unavailable: recorded calls made by a real worker through the switch simulator, while the S3
endpoint (moto, behind a loopback gate) refuses every connection; then the endpoint comes back on the same
address.

The rule (recordings.uploader): nothing is lost while storage is down. Every recorded call ends with its
recording stored, byte for byte what the switch wrote, and the local file (the only copy meanwhile) goes only
once the row says `stored`. tests/recordings/test_uploader.py proves the retry and back-off on the uploader alone
with a store that raises; this is the same rule through the running dialer and uploader, with the real S3
adapter (boto3 over HTTP) meeting a dead endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from engage.core.runtime import Runtime
from engage.dialer.worker import WorkerConfig
from engage.recordings.uploader import Uploader, UploaderConfig
from engage.storage.s3 import S3Store

from ...dialer.conftest import Dialer, Reader, ended, eventually, make_floor
from ...factories import Factory
from ...s3 import new_bucket, raw_client, s3_settings
from .conftest import LocalCopies, TcpGate


@pytest.fixture
async def storage_gate(moto_endpoint: str) -> AsyncIterator[TcpGate]:
    """The store's address: open once to take a port, then closed (storage down) until the test opens it."""
    upstream = urlsplit(moto_endpoint)
    gate = TcpGate(upstream.hostname or "127.0.0.1", upstream.port or 80)
    await gate.open()
    await gate.close()
    yield gate
    await gate.close()


@pytest.fixture
async def uploading(
    runtime: Runtime, dialer: Dialer, worker_config: WorkerConfig, storage_gate: TcpGate, moto_endpoint: str
) -> AsyncIterator[tuple[S3Store, str]]:
    bucket = new_bucket(raw_client(moto_endpoint))
    store = S3Store(bucket=bucket, prefix="engage", settings=s3_settings(storage_gate.endpoint))
    # Retries a second apart at first (doubling): real time is what passes between them here.
    config = UploaderConfig(recordings_dir=worker_config.recordings_dir, poll_seconds=0.05, retry_base_seconds=1.0)
    uploader = Uploader(runtime.sessions, store, dialer.clock, config)
    stop = asyncio.Event()
    task = asyncio.create_task(uploader.run(stop))
    yield store, bucket
    stop.set()
    await asyncio.wait_for(task, 30)
    await store.close()


async def test_recordings_made_while_storage_is_down_are_retried_and_all_stored_once_it_is_back(
    dialer: Dialer,
    uploading: tuple[S3Store, str],
    storage_gate: TcpGate,
    moto_endpoint: str,
    factory: Factory,
    runtime: Runtime,
    reader: Reader,
    worker_config: WorkerConfig,
) -> None:
    _, bucket = uploading
    floor = await make_floor(factory, runtime, contacts_count=3, agents_count=3, wrap_up_seconds=1)
    copies = LocalCopies(runtime, floor, worker_config.recordings_dir)
    await dialer.add_worker()

    calls = await eventually(lambda: reader.calls(floor), lambda found: len(found) == 3 and ended(found), "the calls")
    assert {call.status for call in calls} == {"completed"}
    assert all(call.recording_id is not None for call in calls)
    down = await eventually(
        copies.probe,
        lambda rows: len(rows) == 3 and all(r.attempts >= 2 and r.call_id in copies.seen for r in rows),
        "two failed uploads of every recording",
    )
    assert {row.status for row in down} == {"pending"}
    assert all("upload failed" in (row.last_error or "") for row in down)
    assert all((copies.folder / f"{row.call_id}.wav").is_file() for row in down), "the only copy stays"

    await storage_gate.open()
    dialer.clock.advance(120)  # past any back-off reached meanwhile: the next try is due now
    stored = await eventually(
        copies.probe, lambda rows: all(row.status == "stored" for row in rows), "every recording stored"
    )

    assert sorted(row.call_id for row in stored) == sorted(call.id for call in calls)
    assert sorted(row.id for row in stored) == sorted(call.recording_id for call in calls if call.recording_id)
    assert list(copies.folder.glob("*.wav")) == []
    s3 = raw_client(moto_endpoint)
    for row in stored:
        body = s3.get_object(Bucket=bucket, Key=f"engage/{row.object_key}")["Body"].read()
        assert body == copies.seen[row.call_id]
        assert row.size_bytes == len(body)
        assert row.local_path is None
