"""Routes: /v1/compliance/check, /v1/compliance/rules, /v1/compliance/audit/{audit_ref}."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["compliance"])
