"""Routes: /v1/webhooks (admin only)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["webhooks"])
