"""Routes: /v1/compliance/registries, read-only for every role. Registries are platform data: no route
changes them; the operator loads them with `engage registry import`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from engage.core.deps import SessionDep, require
from engage.core.principal import Permission, Principal

from . import service
from .schemas import RegistryList, RegistryStatus

router = APIRouter(prefix="/v1", tags=["compliance"])

RegistryReader = Annotated[Principal, Depends(require(Permission.registries_read))]


@router.get("/compliance/registries", response_model=RegistryList, summary="List the loaded national registries")
async def list_registries(_: RegistryReader, session: SessionDep) -> RegistryList:
    loads = await service.list_loads(session)
    return RegistryList(items=[RegistryStatus.model_validate(load) for load in loads])
