"""An independent check of SigV4 presigned URLs (query-string authentication), written from AWS's published
algorithm with hashlib and hmac only, so that it shares no code with botocore's signer: moto serves tampered
and expired URLs alike, so this is what tells a good signature from a bad one.

The steps (AWS Signature Version 4, "Authenticating Requests: Using Query Parameters"):
canonical request = method, canonical URI, canonical query string (every parameter but X-Amz-Signature, names
and values URI-encoded, sorted), canonical headers (`host:<host>` here), signed headers, `UNSIGNED-PAYLOAD`;
string to sign = `AWS4-HMAC-SHA256`, the X-Amz-Date, the credential scope, SHA-256 of the canonical request;
signing key = HMAC chain of date, region, service and `aws4_request` from `AWS4<secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Verdict:
    signature_ok: bool
    expired: bool

    @property
    def valid(self) -> bool:
        return self.signature_ok and not self.expired


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _encode(text: str) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX with upper-case hex.
    return quote(text, safe="-_.~")


def verify(url: str, *, secret_key: str, now: datetime, method: str = "GET") -> Verdict:
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(params)
    if given.get("X-Amz-Algorithm") != ALGORITHM or given.get("X-Amz-SignedHeaders") != "host":
        return Verdict(signature_ok=False, expired=False)
    access_key, date, region, service, terminator = given["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/{terminator}"
    amz_date = given["X-Amz-Date"]

    canonical_query = "&".join(
        f"{_encode(name)}={_encode(value)}" for name, value in sorted(params) if name != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            method,
            parts.path or "/",  # as sent: botocore's URL already carries the key URI-encoded
            canonical_query,
            f"host:{parts.netloc}\n",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, terminator):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    expires_at = signed_at + timedelta(seconds=int(given["X-Amz-Expires"]))
    return Verdict(
        signature_ok=hmac.compare_digest(expected, given.get("X-Amz-Signature", "")) and bool(access_key),
        expired=now >= expires_at,
    )
