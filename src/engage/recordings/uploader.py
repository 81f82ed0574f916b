"""The recording uploader and the retention purge: the worker's loops that move recordings from the switch's
disk to object storage and, past a tenant's retention, out of it again.

A recording becomes due when the switch finishes its file (or its call ends). The uploader claims due
recordings in batches (`engage_recording_claim` leases each, so two workers never upload the same one and a
crashed worker's come back when the lease runs out), uploads a few at a time, and only after the row says
`stored` (committed) deletes the local file. A failed upload is retried with exponential back-off, for as long
as the file is there: nothing is lost while storage is down. A file that is gone (or lies outside the
recordings folder, which no recording of ours does) is retried a few times, in case the switch is still
closing it, then the recording is `failed`, with the reason, and counted in a metric.

None of this runs on the call path: the dialer only writes the row and wakes the uploader.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import wave
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.clock import Clock
from engage.core.db import tenant_transaction
from engage.storage.port import ObjectStore, StorageError

from . import service
from .service import UploadJob

log = structlog.get_logger("engage.recordings.uploader")

UPLOADS = Counter(
    "engage_recording_uploads_total",
    "Recording uploads to object storage, by outcome: stored, retry (storage or file not ready), failed (lost).",
    ["outcome"],
)
PURGED = Counter("engage_recordings_purged_total", "Recordings deleted from storage by the retention purge.")


@dataclass(frozen=True, slots=True)
class UploaderConfig:
    # Where the switch writes recordings; a file elsewhere is never uploaded.
    recordings_dir: Path
    batch: int = 16
    # Uploads in flight at once: each holds one file open and (for S3) a few parts; four keep a 100 Mbit/s link
    # busy with five-minute WAVs (`engage bench recordings`).
    concurrency: int = 4
    poll_seconds: float = 1.0
    # Longer than any one upload takes, so a slow upload is not claimed twice; a crashed worker's recordings wait
    # this long before another worker takes them.
    lease_seconds: float = 900.0
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    # A missing file is retried this many times (about 2.5 minutes with the back-off above) before it is lost.
    missing_file_attempts: int = 5
    purge_interval_seconds: float = 3600.0
    purge_batch: int = 500


@dataclass(frozen=True, slots=True)
class AudioFacts:
    size_bytes: int
    duration_seconds: int | None


def audio_facts(path: Path) -> AudioFacts:
    """Size from the file system; duration from the WAV header (frames over rate), None for other formats."""
    size = path.stat().st_size
    if path.suffix.lower() != ".wav":
        return AudioFacts(size, None)
    try:
        with wave.open(str(path), "rb") as audio:
            rate = audio.getframerate()
            return AudioFacts(size, round(audio.getnframes() / rate) if rate else None)
    except (wave.Error, EOFError):
        return AudioFacts(size, None)


class _FileLost(Exception):
    """The file cannot be uploaded as it is. `final`: it never will be (no path, or one outside the recordings
    folder); otherwise it is missing, which may pass (a file the switch is still closing, a shared folder that
    is catching up)."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(reason)
        self.final = final


class Uploader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        clock: Clock,
        config: UploaderConfig,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.clock = clock
        self.config = config
        self._root = config.recordings_dir.resolve()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)

    def wake(self) -> None:
        """A recording just became due: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Upload until `stop`; purge expired recordings every `purge_interval_seconds`."""
        loop = asyncio.get_running_loop()
        next_purge = loop.time()
        relay = asyncio.create_task(self._wake_on(stop), name="recording-stop-relay")
        try:
            while not stop.is_set():
                try:
                    busy = await self.upload_due()
                    if loop.time() >= next_purge:
                        await self.purge_expired()
                        next_purge = loop.time() + self.config.purge_interval_seconds
                except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the loop; it is logged
                    log.warning("recording.loop_failed", error=str(exc))
                    busy = 0
                if busy or stop.is_set():
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
                self._wake.clear()
        finally:
            relay.cancel()
            await asyncio.gather(relay, return_exceptions=True)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def upload_due(self) -> int:
        """Claim one batch of due recordings and upload them; how many were claimed."""
        async with self.sessions() as session, session.begin():
            claimed = await service.claim(
                session, batch=self.config.batch, lease_seconds=self.config.lease_seconds, now=self.clock.now()
            )
        if claimed:
            await asyncio.gather(*(self._upload(tenant_id, recording_id) for tenant_id, recording_id in claimed))
        return len(claimed)

    async def _upload(self, tenant_id: uuid.UUID, recording_id: uuid.UUID) -> None:
        async with self._slots:
            async with tenant_transaction(self.sessions, tenant_id) as session:
                job = await service.upload_job(session, recording_id)
            if job is None:
                return
            try:
                path = self._local_file(job)
                facts = await asyncio.to_thread(audio_facts, path)
                await self.store.put_file(job.object_key, path, content_type=service.content_type(job.format))
            except _FileLost as exc:
                await self._file_lost(job, str(exc), final=exc.final)
                return
            except (StorageError, OSError) as exc:
                if service.failure_reason(exc) == "disk_full":
                    # The local object store's disk: retried like any storage failure, and counted for the alert.
                    service.FAILURES.labels("disk_full").inc()
                await self._retry(job, f"upload failed: {exc}")
                return
            async with tenant_transaction(self.sessions, job.tenant_id) as session:
                stored = await service.mark_stored(
                    session,
                    job.recording_id,
                    size_bytes=facts.size_bytes,
                    duration_seconds=facts.duration_seconds,
                    now=self.clock.now(),
                )
            if stored:
                UPLOADS.labels("stored").inc()
                log.info(
                    "recording.stored",
                    tenant_id=str(job.tenant_id),
                    recording_id=str(job.recording_id),
                    call_id=str(job.call_id),
                    size_bytes=facts.size_bytes,
                    attempts=job.attempts,
                )
                # Only now, with the row committed as stored, is the local copy no longer the only one.
                with contextlib.suppress(FileNotFoundError):
                    await asyncio.to_thread(path.unlink)

    def _local_file(self, job: UploadJob) -> Path:
        if not job.local_path:
            raise _FileLost("the switch reported no file for this recording", final=True)
        path = Path(job.local_path).resolve()
        if not path.is_relative_to(self._root):
            raise _FileLost("the file lies outside the recordings folder", final=True)
        if not path.is_file():
            raise _FileLost("the recording file is not there")
        return path

    async def _retry(self, job: UploadJob, error: str) -> None:
        delay = min(self.config.retry_base_seconds * 2 ** max(job.attempts - 1, 0), self.config.retry_max_seconds)
        UPLOADS.labels("retry").inc()
        log.warning(
            "recording.upload_retry",
            tenant_id=str(job.tenant_id),
            recording_id=str(job.recording_id),
            attempts=job.attempts,
            retry_in_seconds=delay,
            error=error,
        )
        async with tenant_transaction(self.sessions, job.tenant_id) as session:
            await service.mark_retry(
                session, job.recording_id, error=error, retry_at=self.clock.now() + timedelta(seconds=delay)
            )

    async def _file_lost(self, job: UploadJob, error: str, *, final: bool) -> None:
        if not final and job.attempts < self.config.missing_file_attempts:
            await self._retry(job, error)
            return
        UPLOADS.labels("failed").inc()
        log.error("recording.lost", tenant_id=str(job.tenant_id), recording_id=str(job.recording_id), error=error)
        async with tenant_transaction(self.sessions, job.tenant_id) as session:
            await service.mark_failed(session, job.recording_id, error=error)

    async def purge_expired(self) -> int:
        """Delete, from storage, recordings older than their tenant's retention; how many were deleted."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            expired = await service.expired(session, now=now, batch=self.config.purge_batch)
        purged = 0
        for tenant_id, recording_id in expired:
            try:
                async with tenant_transaction(self.sessions, tenant_id) as session:
                    if await service.purge(session, recording_id, self.store, now=now):
                        purged += 1
            except StorageError as exc:
                log.warning("recording.purge_failed", tenant_id=str(tenant_id), error=str(exc))
                break  # storage is down: the rest wait for the next purge
        PURGED.inc(purged)
        return purged
