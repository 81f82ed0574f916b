"""The object-storage port: what Engage asks of a store of files (recordings, large report exports).

Two adapters implement it: `s3.S3Store` (AWS S3, MinIO and other S3-compatible stores, SigV4 presigned URLs)
and `local.LocalStore` (the embedded default: files under the data dir, served by Engage itself at URLs signed
with an HMAC). Keys are ours, never a caller's: `[A-Za-z0-9._-]` segments joined by `/`, no `..`.

Every method streams: a file is read in chunks, never whole, so memory does not grow with its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol


class StorageError(Exception):
    """The store could not do what was asked (unreachable, refused, out of space). Retry later."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    expires_at: datetime


class ObjectStore(Protocol):
    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        """Store the file at `path` under `key` (replacing what was there: a retried upload lands on the same
        object). Large files go up in parts."""
        ...

    async def put_stream(self, key: str, stream: BinaryIO, *, content_type: str) -> StoredObject:
        """Store what `stream` yields (a readable binary file object, read in chunks until EOF) under `key`."""
        ...

    async def presign_get(
        self, key: str, *, expires_in: timedelta, now: datetime, filename: str | None = None
    ) -> SignedUrl:
        """A URL anyone holding it may GET the object with until `now + expires_in`; `filename` asks the
        browser to save it under that name (Content-Disposition)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing one that is not there is not an error."""
        ...

    async def close(self) -> None: ...
