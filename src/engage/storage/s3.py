"""`S3Store`: objects in an S3-compatible bucket (AWS S3, MinIO, ...), read back through SigV4 presigned URLs.

boto3 is synchronous, so every call runs in a worker thread (`asyncio.to_thread`) and the event loop never
waits on the network; every call has a connect and a read timeout and the SDK's standard retries (3 attempts).
Files above the multipart threshold go up in parts, streamed from the file: memory per upload is bounded by
chunk size x concurrency, whatever the file's size. Keys get the bucket URL's prefix (`s3://bucket/prefix`).
Whatever the SDK raises leaves here as `StorageError`, naming the operation and the key, never a credential.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

import boto3
import structlog
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from engage.config import S3Settings

from .names import check_filename, check_key, check_lifetime, content_disposition
from .port import SignedUrl, StorageError, StoredObject

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

log = structlog.get_logger("engage.storage")

T = TypeVar("T")

MIB = 1024 * 1024
# What the SDK raises: service refusals (ClientError), transport and configuration failures (BotoCoreError,
# EndpointConnectionError among them), boto3's transfer wrapper (S3UploadFailedError), and local file errors.
_SDK_ERRORS = (ClientError, BotoCoreError, Boto3Error, OSError)


class _CountingReader:
    """A read-only view of a stream that counts what was read: the size of a streamed upload, known without
    buffering the stream or asking it to seek. It offers no seek, so the SDK treats it as the non-seekable
    stream it may be and buffers one part at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.size_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.size_bytes += len(chunk)
        return chunk


class S3Store:
    def __init__(self, *, bucket: str, prefix: str, settings: S3Settings) -> None:
        self._bucket = bucket
        self._prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.addressing_style},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            # Each upload runs `max_concurrency` part requests, and several uploads run at once (one per worker
            # thread): with the default pool of 10, connections would be opened and thrown away under load.
            max_pool_connections=max(10, 4 * settings.max_concurrency),
            # Checksums only where the operation requires them: boto3 1.36+ adds CRC32 trailers to every upload by
            # default, which older MinIO, Ceph and other S3-compatible stores refuse.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # Explicit keys when configured; otherwise boto3's default chain (environment, shared files, role).
        session = boto3.session.Session(
            aws_access_key_id=settings.access_key.get_secret_value() if settings.access_key else None,
            aws_secret_access_key=settings.secret_key.get_secret_value() if settings.secret_key else None,
            region_name=settings.region,
        )
        self._client: S3Client = session.client("s3", endpoint_url=settings.endpoint, config=config)
        # Presigning is offline: a client configured with the host browsers use signs for that host, and never
        # connects to it.
        self._signer: S3Client = (
            session.client("s3", endpoint_url=settings.public_endpoint, config=config)
            if settings.public_endpoint
            else self._client
        )
        self._transfer = TransferConfig(
            multipart_threshold=settings.multipart_threshold_mib * MIB,
            multipart_chunksize=settings.multipart_chunk_mib * MIB,
            max_concurrency=settings.max_concurrency,
        )
        self._encryption: dict[str, str] = {}
        if settings.sse is not None:
            self._encryption["ServerSideEncryption"] = settings.sse
        if settings.kms_key_id is not None:
            self._encryption["SSEKMSKeyId"] = settings.kms_key_id

    def object_key(self, key: str) -> str:
        """The key in the bucket: ours under the configured prefix."""
        return self._prefix + check_key(key)

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        name = self.object_key(key)

        def upload() -> int:
            size = os.stat(path).st_size
            self._client.upload_file(
                str(path), self._bucket, name, ExtraArgs=self._extra_args(content_type), Config=self._transfer
            )
            return size

        size = await self._call("put_file", key, upload)
        log.debug("storage.stored", key=key, size_bytes=size)
        return StoredObject(key=key, size_bytes=size)

    async def put_stream(self, key: str, stream: BinaryIO, *, content_type: str) -> StoredObject:
        name = self.object_key(key)
        reader = _CountingReader(stream)

        def upload() -> int:
            self._client.upload_fileobj(
                reader,  # type: ignore[arg-type]  # the SDK needs only `read`, which it has
                self._bucket,
                name,
                ExtraArgs=self._extra_args(content_type),
                Config=self._transfer,
            )
            return reader.size_bytes

        size = await self._call("put_stream", key, upload)
        log.debug("storage.stored", key=key, size_bytes=size)
        return StoredObject(key=key, size_bytes=size)

    async def presign_get(
        self, key: str, *, expires_in: timedelta, now: datetime, filename: str | None = None
    ) -> SignedUrl:
        check_lifetime(expires_in)
        params = {"Bucket": self._bucket, "Key": self.object_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(check_filename(filename))
        seconds = int(expires_in.total_seconds())

        def presign() -> str:
            return self._signer.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

        # In a thread all the same: the first signature may resolve credentials from the default chain, which
        # on EC2 or ECS is a network call to the instance metadata service.
        url = await self._call("presign_get", key, presign)
        return SignedUrl(url=url, expires_at=now + timedelta(seconds=seconds))

    async def delete(self, key: str) -> None:
        name = self.object_key(key)
        # S3 answers 204 for a key that is not there, so "already deleted" needs no special case.
        await self._call("delete", key, lambda: self._client.delete_object(Bucket=self._bucket, Key=name))

    async def close(self) -> None:
        self._client.close()
        if self._signer is not self._client:
            self._signer.close()

    def _extra_args(self, content_type: str) -> dict[str, str]:
        return {"ContentType": content_type, **self._encryption}

    async def _call(self, operation: str, key: str, work: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(work)
        except _SDK_ERRORS as exc:
            reason = _reason(exc)
            log.warning("storage.failed", store="s3", operation=operation, bucket=self._bucket, key=key, error=reason)
            raise StorageError(f"S3 {operation} of {key!r} in bucket {self._bucket!r} failed: {reason}") from exc


def _reason(exc: BaseException) -> str:
    """What went wrong, in words that carry no credential: the service's error code, or the error's class and
    message (botocore's messages name endpoints and operations, never keys or secrets)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{error.get('Code', 'error')} (HTTP {status}): {error.get('Message', '')}".rstrip(": ")
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, Boto3Error) and isinstance(cause, ClientError):
        return _reason(cause)
    return f"{type(exc).__name__}: {exc}"
