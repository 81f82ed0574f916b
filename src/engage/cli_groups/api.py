"""Routes of the cli_groups domain (issue 3)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["cli_groups"])
