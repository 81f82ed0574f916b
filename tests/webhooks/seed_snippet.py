"""The seed's "Signature verification" snippet, word for word (kept as text so no formatter can touch it), run
as the seed prints it: what a receiver would paste into its own code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SEED_VERIFY = """
import hmac, hashlib

def verify_webhook(payload_bytes: bytes, signature: str, secret: str) -> bool:
    expected = hmac.new(
        secret.encode(),
        payload_bytes,
        hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", signature)
"""
_namespace: dict[str, Any] = {}
exec(SEED_VERIFY, _namespace)  # noqa: S102 - our own constant: the seed's code, unedited
verify_webhook: Callable[[bytes, str, str], bool] = _namespace["verify_webhook"]
