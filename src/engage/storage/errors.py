"""Problems of the storage domain: what the signed file route answers (RFC 7807, `core.errors`)."""

from __future__ import annotations

from engage.core.errors import Forbidden, NotFound


class FileUrlInvalid(Forbidden):
    """The URL's signature is missing, garbled or does not match its key, expiry and filename."""

    slug = "file-url-invalid"
    title = "File URL invalid"


class FileUrlExpired(Forbidden):
    slug = "file-url-expired"
    title = "File URL expired"


class FileNotFound(NotFound):
    slug = "file-not-found"
    title = "File not found"
