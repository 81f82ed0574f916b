"""Routes of the agents domain (issue 3)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["agents"])
