"""Routes: /v1/compliance/registries (read-only for tenants)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["compliance"])
