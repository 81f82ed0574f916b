"""`LocalStore`: the embedded default object store. Objects are files under a root folder (the factory passes
`<ENGAGE_DATA_DIR>/objects`); Engage serves them itself at `GET /files/<key>` (`storage.api`) to whoever holds
a URL signed here (`storage.signing`).

Invariants: a put is atomic (the bytes go to a temporary file beside the target, fsynced, then renamed over it:
a reader sees the old object or the whole new one, and a retried put replaces); no key, and no symlink inside
the root, reaches a file outside the root; a store without a signing key (a worker process, which only uploads)
cannot sign URLs. File I/O runs in threads, so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import quote, urlencode

import structlog

from engage.core.clock import Clock

from .errors import FileNotFound, FileUrlExpired, FileUrlInvalid
from .names import check_filename, check_key, check_lifetime, is_valid_filename, is_valid_key, media_type_for
from .port import SignedUrl, StorageError, StoredObject
from .signing import FILES_PATH, sign, signature_matches

log = structlog.get_logger("engage.storage")

T = TypeVar("T")

# Copy in 1 MiB chunks: memory per put stays flat whatever the file's size, and a chunk is large enough that
# the per-call overhead does not show next to the disk.
COPY_CHUNK_BYTES = 1024 * 1024
# Unix seconds as decimal digits; 12 digits reach the year 33658, and bound what int() is asked to parse.
_EXPIRES = re.compile(r"[0-9]{1,12}")
# A folder emptied between our mkdir and our temporary file (a concurrent delete of its last object) is made
# again; twice more is plenty, the race needs a delete landing in a window of microseconds each time.
_STAGING_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ServedFile:
    """What the file route sends for a verified URL."""

    path: Path
    stat: os.stat_result
    media_type: str
    filename: str | None
    # Until the URL expires, and no longer: a cache must not keep serving what the URL no longer grants.
    max_age_seconds: int


class LocalStore:
    def __init__(self, root: Path, *, public_url: str, signing_key: bytes | None, clock: Clock) -> None:
        # Resolved once, so containment checks compare real paths (the data dir may be reached through a symlink).
        self._root = root.resolve()
        self._public_url = public_url.rstrip("/")
        self._signing_key = signing_key
        self._clock = clock

    @property
    def root(self) -> Path:
        return self._root

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        # `content_type` is not kept: the file route derives the type from the key's extension, which our keys
        # always carry, so there is no second record to keep in step with the file.
        target = self._target(key)

        def copy() -> int:
            with path.open("rb") as source:
                return self._write(target, source)

        size = await self._io("put_file", key, copy)
        log.debug("storage.stored", key=key, size_bytes=size)
        return StoredObject(key=key, size_bytes=size)

    async def put_stream(self, key: str, stream: BinaryIO, *, content_type: str) -> StoredObject:
        target = self._target(key)
        size = await self._io("put_stream", key, lambda: self._write(target, stream))
        log.debug("storage.stored", key=key, size_bytes=size)
        return StoredObject(key=key, size_bytes=size)

    async def presign_get(
        self, key: str, *, expires_in: timedelta, now: datetime, filename: str | None = None
    ) -> SignedUrl:
        check_key(key)
        check_lifetime(expires_in)
        if filename is not None:
            check_filename(filename)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if self._signing_key is None:
            raise StorageError("this process has no URL-signing key (a worker only uploads); sign URLs in the API")
        # Whole seconds, rounded down: the URL never outlives the lifetime asked for.
        expires = int((now + expires_in).timestamp())
        query = [("expires", str(expires))]
        if filename is not None:
            query.append(("filename", filename))
        query.append(("signature", sign(self._signing_key, key, expires, filename)))
        url = f"{self._public_url}{FILES_PATH}{quote(key, safe='/')}?{urlencode(query, quote_via=quote)}"
        return SignedUrl(url=url, expires_at=datetime.fromtimestamp(expires, UTC))

    async def delete(self, key: str) -> None:
        target = self._target(key)
        await self._io("delete", key, lambda: self._remove(target))

    async def close(self) -> None:
        return None

    async def open_signed(
        self, key: str, *, expires: str | None, signature: str | None, filename: str | None
    ) -> ServedFile:
        """The file a signed URL grants, or the problem to answer: 403 for a URL we did not sign as it stands
        (key, expiry or filename changed, signature missing or garbled) or one past its expiry, 404 for an
        object that is not there (only after the signature checked out, so an unsigned probe learns nothing)."""
        if (
            self._signing_key is None
            or expires is None
            or signature is None
            or not _EXPIRES.fullmatch(expires)
            or not is_valid_key(key)
            or (filename is not None and not is_valid_filename(filename))
            or not signature_matches(self._signing_key, key, int(expires), filename, signature)
        ):
            raise FileUrlInvalid("This is not a valid signed file URL; ask for a new one.")
        remaining = int(expires) - int(self._clock.now().timestamp())
        if remaining <= 0:
            raise FileUrlExpired("This file URL has expired; ask for a new one.")
        found = await asyncio.to_thread(self._regular_file, self._root.joinpath(*key.split("/")))
        if found is None:
            raise FileNotFound("No file is stored under this URL's key.")
        path, status = found
        return ServedFile(
            path=path, stat=status, media_type=media_type_for(key), filename=filename, max_age_seconds=remaining
        )

    def _target(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))

    def _regular_file(self, path: Path) -> tuple[Path, os.stat_result] | None:
        """`path` resolved, with its status, when it is a regular file inside the root; else None."""
        try:
            resolved = path.resolve(strict=True)
            status = resolved.stat()
        except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
            return None
        if not resolved.is_relative_to(self._root) or not stat.S_ISREG(status.st_mode):
            return None
        return resolved, status

    def _write(self, target: Path, source: BinaryIO) -> int:
        descriptor, staging = self._staging_file(target.parent)
        try:
            with os.fdopen(descriptor, "wb") as out:
                shutil.copyfileobj(source, out, COPY_CHUNK_BYTES)
                out.flush()
                # On disk before the rename: after a crash the key holds the old object or the new one, whole.
                os.fsync(out.fileno())
                size = out.tell()
            os.replace(staging, target)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(staging)
            raise
        return size

    def _staging_file(self, folder: Path) -> tuple[int, str]:
        attempt = 1
        while True:
            folder.mkdir(parents=True, exist_ok=True)
            if not folder.resolve().is_relative_to(self._root):
                raise StorageError(f"local store: {folder} leads outside the store's root")
            try:
                # A dot name no key can take (`names`), in the target's folder so the rename stays on one
                # filesystem and is atomic. mkstemp creates it 0600: recordings are not for other local users.
                return tempfile.mkstemp(dir=folder, prefix=".put-", suffix=".part")
            except FileNotFoundError:
                if attempt == _STAGING_ATTEMPTS:
                    raise
                attempt += 1

    def _remove(self, target: Path) -> None:
        with suppress(FileNotFoundError, IsADirectoryError):  # not there (a folder is no object): nothing to do
            target.unlink()
        # Folders left empty go too, up to the root, so deleting every object leaves no tree of empty folders.
        folder = target.parent
        while folder != self._root and folder.is_relative_to(self._root):
            try:
                folder.rmdir()
            except OSError:  # not empty (another object, or a put just made it), or already gone
                break
            folder = folder.parent

    async def _io(self, operation: str, key: str, work: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(work)
        except OSError as exc:
            log.warning("storage.failed", store="local", operation=operation, key=key, error=exc.strerror)
            raise StorageError(f"local store: {operation} of {key!r} failed: {exc.strerror or exc}") from exc
