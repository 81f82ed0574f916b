"""Object keys, download filenames and URL lifetimes: what each adapter accepts, and what a file is served as.

Invariant: a key that passes `check_key` names a file strictly inside a folder when joined to it (no `..`, no
`.`, no absolute path, no backslash, no NUL, no hidden segment), so both adapters refuse the same keys and the
local store can never be steered outside its root by one.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

# A segment starts with a letter or digit: that rules out `.`, `..`, hidden files (the local store's own
# temporary files start with a dot, so no key can name one) and a leading `-` a shell tool would take for an
# option.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# S3 allows 1,024 bytes; 512 leaves room for a deployment's prefix. 255 is the longest file name ext4, XFS and
# APFS accept (NAME_MAX).
MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 255
MAX_FILENAME_LENGTH = 255
# A download name may be any printable text but what would break a header or name a path: quotes, slashes,
# backslashes and control characters.
_FILENAME_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f"/\\]')

# What a browser or player is told a file is; anything else is served as opaque bytes.
MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".pdf": "application/pdf",
    ".csv": "text/csv",
    ".json": "application/json",
}
OPAQUE = "application/octet-stream"
# The longest a URL may live: S3 refuses SigV4 presigned URLs valid for more than 7 days, and the local store
# keeps the same limit so that both adapters accept the same requests.
MAX_URL_LIFETIME = timedelta(days=7)


def is_valid_key(key: str) -> bool:
    if not key or len(key) > MAX_KEY_LENGTH:
        return False
    return all(len(s) <= MAX_SEGMENT_LENGTH and _SEGMENT.fullmatch(s) for s in key.split("/"))


def check_key(key: str) -> str:
    """`key` itself, or ValueError: keys are ours (a caller's text never becomes a key unchecked)."""
    if not is_valid_key(key):
        raise ValueError(
            f"invalid object key {key[:80]!r}: segments of letters, digits, '.', '_' and '-' (starting with a "
            f"letter or digit) joined by '/', at most {MAX_KEY_LENGTH} characters"
        )
    return key


def is_valid_filename(filename: str) -> bool:
    return 0 < len(filename) <= MAX_FILENAME_LENGTH and not _FILENAME_FORBIDDEN.search(filename)


def check_filename(filename: str) -> str:
    if not is_valid_filename(filename):
        raise ValueError(
            f"invalid download filename: 1 to {MAX_FILENAME_LENGTH} characters, no quote, slash, backslash or control"
        )
    return filename


def content_disposition(filename: str) -> str:
    """`attachment` with the name twice (RFC 6266 §4.3): an ASCII fallback, then the exact name in UTF-8
    (RFC 8187), which every current browser prefers."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def media_type_for(key: str) -> str:
    dot = key.rfind(".")
    return MEDIA_TYPES.get(key[dot:].lower(), OPAQUE) if dot > key.rfind("/") else OPAQUE


def check_lifetime(expires_in: timedelta) -> None:
    if not timedelta(0) < expires_in <= MAX_URL_LIFETIME:
        raise ValueError("expires_in must be positive and at most 7 days")
