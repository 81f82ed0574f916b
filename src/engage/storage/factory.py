"""`open_store`: the object store the settings ask for, built once by a composition root (the app, a worker).

`ENGAGE_STORAGE_URL` unset: a `LocalStore` under `<ENGAGE_DATA_DIR>/objects`, whose URLs point at
`ENGAGE_PUBLIC_URL` and are signed with a key derived from the JWT secret (`signing_secret`; a worker, which
only uploads, passes None and cannot sign). `s3://bucket[/prefix]`: an `S3Store` configured by `ENGAGE_S3_*`.
"""

from __future__ import annotations

from engage.config import Settings
from engage.core.clock import Clock, SystemClock

from .local import LocalStore
from .port import ObjectStore
from .s3 import S3Store
from .signing import derive_signing_key

OBJECTS_FOLDER = "objects"


def open_store(settings: Settings, *, signing_secret: str | None, clock: Clock | None = None) -> ObjectStore:
    """`clock` decides when a local URL has expired; pass the app's, so URLs signed and checked under a shifted
    simulator clock agree (default: the system clock)."""
    location = settings.storage.s3_location
    if location is not None:
        bucket, prefix = location
        return S3Store(bucket=bucket, prefix=prefix, settings=settings.s3)
    return LocalStore(
        settings.data_dir / OBJECTS_FOLDER,
        public_url=settings.public_url,
        signing_key=derive_signing_key(signing_secret) if signing_secret is not None else None,
        clock=clock or SystemClock(),
    )
