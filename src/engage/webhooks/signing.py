"""Webhook signatures. `X-BroadNet-Signature: sha256=<hex HMAC-SHA256 of the raw body>` is the seed's (its
Python snippet verifies it); `X-BroadNet-Signature-Timestamped: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`
with `X-BroadNet-Timestamp` lets a receiver refuse replays. During a secret rotation's grace period each header
carries two signatures, new secret first, separated by a comma."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_timestamped(timestamp: int, body: bytes, secret: str) -> str:
    return sign(str(timestamp).encode() + b"." + body, secret)


def signature_headers(body: bytes, timestamp: int, secrets: Sequence[str]) -> dict[str, str]:
    """The signing headers for one request, signed with every secret in force (the current one first)."""
    return {
        "X-BroadNet-Signature": ",".join(sign(body, secret) for secret in secrets),
        "X-BroadNet-Signature-Timestamped": ",".join(sign_timestamped(timestamp, body, s) for s in secrets),
        "X-BroadNet-Timestamp": str(timestamp),
    }
