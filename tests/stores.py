"""Object stores for tests that wrap a real one: the behaviour a test needs on top (a spy, faults), the rest
passed through unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from engage.storage.port import ObjectStore, SignedUrl, StoredObject


class WrappedStore:
    """Delegates every call of the port to `inner`; subclasses override what they change."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        return await self.inner.put_file(key, path, content_type=content_type)

    async def put_stream(self, key: str, stream: BinaryIO, *, content_type: str) -> StoredObject:
        return await self.inner.put_stream(key, stream, content_type=content_type)

    async def presign_get(
        self, key: str, *, expires_in: timedelta, now: datetime, filename: str | None = None
    ) -> SignedUrl:
        return await self.inner.presign_get(key, expires_in=expires_in, now=now, filename=filename)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def close(self) -> None:
        await self.inner.close()
