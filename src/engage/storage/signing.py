"""Signatures of the local store's file URLs: `/files/<key>?expires=<unix seconds>&signature=<hex>` (and a signed
`filename` when the download is to carry a name).

The signature is HMAC-SHA256, under a key derived from the JWT secret with a fixed label, over a canonical
string of method, path, expiry and filename: changing any of them (another key, a later expiry, a filename
to smuggle a Content-Disposition) breaks it. Derived, not the JWT secret itself, so a token and a URL are never
signed with one key and neither can stand in for the other.
"""

from __future__ import annotations

import hashlib
import hmac
import re

# Where the route serves files; part of what is signed, so a signature is good for this path only.
FILES_PATH = "/files/"
# Fixed for the life of the format: changing it invalidates every URL in circulation (as rotating the JWT
# secret does).
_KEY_LABEL = b"engage/storage/local-file-urls/v1"
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def derive_signing_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _canonical(key: str, expires: int, filename: str | None) -> bytes:
    # One field a line; none can hold a newline (a checked key, an integer, a checked filename). A filename is
    # written with a leading `=`, so "no filename" and "an empty one" never sign the same.
    named = "" if filename is None else "=" + filename
    return "\n".join(("GET", FILES_PATH + key, str(expires), named)).encode()


def sign(signing_key: bytes, key: str, expires: int, filename: str | None) -> str:
    return hmac.new(signing_key, _canonical(key, expires, filename), hashlib.sha256).hexdigest()


def signature_matches(signing_key: bytes, key: str, expires: int, filename: str | None, signature: str) -> bool:
    if not _SIGNATURE.fullmatch(signature):
        return False
    expected = sign(signing_key, key, expires, filename)
    # Constant time: how many leading characters matched must not show in the response time.
    return hmac.compare_digest(expected.encode(), signature.encode())
