"""`recordings`: uploads of call recordings through `S3Store.put_file`, the path the recording uploader takes.

`--count` recordings (default 1,000) of `--minutes` each (default 5: a WAV of 8 kHz mono 16-bit PCM, 4.8 MB),
`--concurrency` uploads in flight (default 4), against a moto S3 server this benchmark starts on loopback, or
against the S3 that ENGAGE_STORAGE_URL and ENGAGE_S3_* configure when it is set. The WAVs are real files written
by the switch simulator's writer, a few ahead of the uploads and each deleted after its upload, so the disk
holds a handful at a time. After each timed put (and outside its timing) the object is checked through a
signed URL (a one-byte ranged GET whose Content-Range carries the stored size) and deleted from the store
(unless `--keep`), so neither moto's memory nor a real bucket fills up.

Prints uploads/s, MB/s (10^6 bytes), p50/p99 seconds per upload, and the process's RSS before the run and its
peak (ru_maxrss) after each phase. A second, short phase uploads `--big-count` recordings of `--big-minutes`
(default 3 of 60 minutes, 57.6 MB, multipart): memory is bounded by chunk size x concurrency, so the peak RSS
after it should not grow with the file size. The wall time includes the untimed check and delete (one GET and
one DELETE per upload, milliseconds against moto).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
from pydantic import SecretStr

from engage.bench.common import percentile
from engage.bench.s3_server import moto_server
from engage.config import S3Settings, Settings
from engage.storage.port import ObjectStore, StorageError
from engage.storage.s3 import S3Store
from engage.telephony.sim.recording import write_wav

_CONCURRENCY = 4
_BUCKET = "engage-bench-recordings"
# The loopback moto server checks no credentials; explicit dummy ones keep boto3 from looking for real ones.
_MOTO_CREDENTIAL = SecretStr("engage-bench")
_MB = 1_000_000
_MIB = 1024 * 1024
_CHECK_TIMEOUT_SECONDS = 30.0


def _rss_mib() -> float:
    """This process's resident set now (Linux: /proc/self/statm), else its peak so far."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return _peak_rss_mib()
    return round(pages * resource.getpagesize() / _MIB, 1)


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS, where this reads 1,024 times too high).
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class _Phase:
    label: str
    count: int
    minutes: float
    latencies: list[float] = field(default_factory=list)
    stored_bytes: int = 0
    errors: int = 0
    verified: int = 0
    seconds: float = 0.0
    peak_rss_mib: float = 0.0

    def figures(self) -> dict[str, object]:
        done = len(self.latencies)
        return {
            "phase": self.label,
            "recordings": self.count,
            "minutes_each": self.minutes,
            "uploaded": done,
            "errors": self.errors,
            "verified": self.verified,
            "bytes": self.stored_bytes,
            "seconds": round(self.seconds, 2),
            "uploads_per_second": round(done / self.seconds, 1) if self.seconds else 0.0,
            "mb_per_second": round(self.stored_bytes / _MB / self.seconds, 1) if self.seconds else 0.0,
            "upload_seconds": {
                "p50": round(percentile(self.latencies, 0.50), 4) if done else None,
                "p99": round(percentile(self.latencies, 0.99), 4) if done else None,
            },
            "peak_rss_mib": self.peak_rss_mib,
        }


async def _stored_size(client: httpx.AsyncClient, store: ObjectStore, key: str) -> int | None:
    """The object's size as the store reports it to a holder of a signed URL, or None when it is not there."""
    signed = await store.presign_get(key, expires_in=timedelta(minutes=5), now=datetime.now(UTC))
    response = await client.get(signed.url, headers={"Range": "bytes=0-0"})
    if response.status_code != 206:
        return None
    return int(response.headers["Content-Range"].rpartition("/")[2])


async def _phase(store: ObjectStore, phase: _Phase, *, folder: Path, concurrency: int, keep: bool) -> None:
    run = uuid.uuid4().hex[:12]
    # A few files ahead of the uploads, no more: the disk holds at most 2 x concurrency recordings.
    ready: asyncio.Queue[Path | None] = asyncio.Queue(maxsize=concurrency)

    async def write() -> None:
        for n in range(phase.count):
            path = folder / f"{phase.label}-{n:06d}.wav"
            await asyncio.to_thread(write_wav, path, phase.minutes * 60)
            await ready.put(path)
        for _ in range(concurrency):
            await ready.put(None)

    async def upload(client: httpx.AsyncClient) -> None:
        while (path := await ready.get()) is not None:
            key = f"bench/{run}/{path.name}"
            started = time.perf_counter()
            try:
                stored = await store.put_file(key, path, content_type="audio/wav")
                phase.latencies.append(time.perf_counter() - started)
            except StorageError:
                phase.errors += 1
                continue
            finally:
                await asyncio.to_thread(path.unlink)
            phase.stored_bytes += stored.size_bytes
            try:
                if await _stored_size(client, store, key) == stored.size_bytes:
                    phase.verified += 1
                if not keep:
                    await store.delete(key)
            except (StorageError, httpx.HTTPError):
                phase.errors += 1

    async with httpx.AsyncClient(timeout=_CHECK_TIMEOUT_SECONDS) as client:
        started = time.perf_counter()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(write())
            for _ in range(concurrency):
                tasks.create_task(upload(client))
        phase.seconds = time.perf_counter() - started
    phase.peak_rss_mib = _peak_rss_mib()


def _create_bucket(s3: S3Settings) -> None:
    access, secret = s3.access_key, s3.secret_key
    client = boto3.session.Session(
        aws_access_key_id=access.get_secret_value() if access else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        region_name=s3.region,
    ).client("s3", endpoint_url=s3.endpoint)
    try:
        client.create_bucket(Bucket=_BUCKET)
    finally:
        client.close()


async def _bench_recordings(store: ObjectStore, phases: list[_Phase], *, concurrency: int, keep: bool) -> None:
    try:
        with tempfile.TemporaryDirectory(prefix="engage-bench-recordings-") as folder:
            for phase in phases:
                await _phase(store, phase, folder=Path(folder), concurrency=concurrency, keep=keep)
    finally:
        await store.close()


def _table(phases: list[_Phase], rss_before_mib: float, where: str) -> str:
    lines = [
        f"{'phase':<11}{'files':>7}{'MB each':>9}{'uploads/s':>11}{'MB/s':>8}{'p50 s':>9}{'p99 s':>9}"
        f"{'errors':>8}{'peak RSS MiB':>14}"
    ]
    for phase in phases:
        done = len(phase.latencies)
        each = phase.stored_bytes / max(1, done) / _MB
        rate = done / phase.seconds if phase.seconds else 0.0
        mb_rate = phase.stored_bytes / _MB / phase.seconds if phase.seconds else 0.0
        p50 = percentile(phase.latencies, 0.50) if done else 0.0
        p99 = percentile(phase.latencies, 0.99) if done else 0.0
        lines.append(
            f"{phase.label:<11}{done:>7}{each:>9.1f}{rate:>11.1f}{mb_rate:>8.1f}{p50:>9.3f}{p99:>9.3f}"
            f"{phase.errors:>8}{phase.peak_rss_mib:>14}"
        )
    lines.append(f"RSS before the run: {rss_before_mib} MiB; store: {where}")
    return "\n".join(lines)


def bench_recordings(args: argparse.Namespace, settings: Settings) -> int:
    concurrency = args.concurrency or _CONCURRENCY
    phases = [_Phase("recordings", args.count if args.count is not None else 1000, args.minutes)]
    if args.big_count > 0:
        phases.append(_Phase("big", args.big_count, args.big_minutes))
    # httpx logs every request's URL at INFO, and a presigned URL is a bearer credential for its lifetime.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    rss_before = _rss_mib()
    with ExitStack() as stack:
        s3 = settings.s3
        location = settings.storage.s3_location
        if location is None:
            # Started (and stopped) outside the event loop: its start-up waits are blocking ones.
            endpoint = stack.enter_context(moto_server())
            s3 = s3.model_copy(
                update={"endpoint": endpoint, "access_key": _MOTO_CREDENTIAL, "secret_key": _MOTO_CREDENTIAL}
            )
            _create_bucket(s3)
            location, where = (_BUCKET, ""), "moto server on loopback"
        else:
            where = settings.storage.url or ""
        bucket, prefix = location
        store = S3Store(bucket=bucket, prefix=prefix, settings=s3)
        asyncio.run(_bench_recordings(store, phases, concurrency=concurrency, keep=args.keep))
    figures = {
        "benchmark": "recordings",
        "store": where,
        "bucket": bucket,
        "prefix": prefix,
        "concurrency": concurrency,
        "multipart_threshold_mib": s3.multipart_threshold_mib,
        "multipart_chunk_mib": s3.multipart_chunk_mib,
        "max_concurrency_per_upload": s3.max_concurrency,
        "rss_before_mib": rss_before,
        "phases": [phase.figures() for phase in phases],
    }
    print(_table(phases, rss_before, where), file=sys.stderr)
    print(json.dumps(figures, indent=2))
    return 0
