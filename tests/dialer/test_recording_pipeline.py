"""A call recorded in the simulator, end to end: the switch writes a real WAV, the dialer hands it over, the
uploader stores it, and the API lists it and signs a URL whose bytes are the audio the switch wrote; the call
and its `call.completed` event name the recording."""

from __future__ import annotations

import asyncio
import io
import secrets
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from engage.config import Settings
from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.dialer.worker import WorkerConfig
from engage.main import create_app
from engage.recordings.models import Recording
from engage.recordings.uploader import Uploader, UploaderConfig
from engage.storage.local import LocalStore
from engage.storage.port import ObjectStore, StoredObject
from engage.storage.s3 import S3Store
from engage.telephony.sim.behaviour import Behaviour

from ..conftest import ClientFor
from ..factories import Factory
from ..s3 import new_bucket, raw_client, s3_settings
from ..stores import WrappedStore
from .conftest import Dialer, Reader, eventually, make_floor


class SpyStore(WrappedStore):
    """The real store, remembering the bytes of each file as it was uploaded (the uploader deletes the local copy
    afterwards)."""

    def __init__(self, inner: ObjectStore) -> None:
        super().__init__(inner)
        self.uploaded: dict[str, bytes] = {}

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        self.uploaded[key] = await asyncio.to_thread(path.read_bytes)
        return await self.inner.put_file(key, path, content_type=content_type)


@pytest.fixture
def behaviour() -> Behaviour:
    """As the dialer tests' (tests/dialer/conftest.py), but calls talk 1.5 to 2 s: recording starts once the call is
    bridged, and a loaded machine (CI's two cores) once reached the callee's hang-up first, leaving no recording."""
    return Behaviour(
        answer_rate=1.0, busy_rate=0.0, voicemail_rate=0.0, ring_seconds=(0.05, 0.15), talk_seconds=(1.5, 2.0), seed=11
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, runtime: Runtime) -> ObjectStore:
    """Each adapter in turn: the local folder Engage serves itself, and S3 (moto, over HTTP on loopback)."""
    if request.param == "local":
        return LocalStore(
            tmp_path / "objects",
            public_url="http://engage.test",
            signing_key=secrets.token_bytes(32),
            clock=runtime.clock,
        )
    endpoint: str = request.getfixturevalue("moto_endpoint")
    return S3Store(bucket=new_bucket(raw_client(endpoint)), prefix="engage", settings=s3_settings(endpoint))


@pytest.fixture
async def uploading(
    runtime: Runtime, store: ObjectStore, dialer: Dialer, worker_config: WorkerConfig
) -> AsyncIterator[tuple[SpyStore, Uploader]]:
    spy = SpyStore(store)
    uploader = Uploader(
        runtime.sessions,
        spy,
        dialer.clock,
        UploaderConfig(recordings_dir=worker_config.recordings_dir, poll_seconds=0.05),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(uploader.run(stop))
    yield spy, uploader
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_a_call_recorded_in_the_simulator_is_stored_listed_and_played_back_byte_for_byte(
    dialer: Dialer,
    uploading: tuple[SpyStore, Uploader],
    factory: Factory,
    runtime: Runtime,
    reader: Reader,
    settings: Settings,
    client_for: ClientFor,
    worker_config: WorkerConfig,
    store: ObjectStore,
) -> None:
    spy, _ = uploading
    floor = await make_floor(factory, runtime, contacts_count=1, agents_count=1, wrap_up_seconds=1)
    await dialer.add_worker()
    calls = await eventually(
        lambda: reader.calls(floor), lambda found: bool(found) and found[0].ended_at is not None, "the call's end"
    )
    call = calls[0]
    assert call.status == "completed"
    assert call.recording_id is not None

    async def recording() -> Recording | None:
        async with tenant_transaction(runtime.sessions, floor.tenant.id) as session:
            return await session.get(Recording, call.recording_id)

    stored = await eventually(recording, lambda row: row is not None and row.status == "stored", "the upload")
    assert stored is not None
    completed = await reader.events(floor, "call.completed")
    assert [event.payload["recording_id"] for event in completed] == [str(call.recording_id)]
    switch_file = worker_config.recordings_dir / str(floor.tenant.id) / f"{call.id}.wav"
    assert not switch_file.exists(), "the local file goes once the object is stored"
    audio = spy.uploaded[stored.object_key]

    admin = await factory.user(floor.tenant)
    app = create_app(settings, runtime=runtime)
    app.state.store = store  # the API's own store signs (and, when local, serves what it signed)
    async with client_for(app) as client:
        listing = await client.get("/v1/recordings", headers=factory.headers(admin))
        play = await client.get(f"/v1/recordings/{call.recording_id}/play", headers=factory.headers(admin))
        url = play.json()["url"]
        if isinstance(store, LocalStore):
            fetched = await client.get(url)
        else:
            assert "X-Amz-Signature=" in url
            assert "X-Amz-Expires=3600" in url
            async with httpx.AsyncClient(timeout=10) as web:
                fetched = await web.get(url)

    item = listing.json()["items"][0]
    assert item["call_id"] == str(call.id)
    assert item["agent_id"] == str(floor.agents[0].id)
    assert item["agent_name"] == floor.agents[0].full_name
    assert item["campaign_id"] == str(floor.campaign_id)
    assert item["contact_phone"] == floor.phones[0]
    assert item["size_bytes"] == len(audio)
    assert fetched.status_code == 200
    assert fetched.content == audio
    with wave.open(io.BytesIO(fetched.content)) as played:
        assert (played.getframerate(), played.getnchannels(), played.getsampwidth()) == (8000, 1, 2)
        assert played.getnframes() > 0
