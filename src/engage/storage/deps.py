"""The request's object store: the one the composition root built and put on `app.state.store`, for the routes
that sign URLs or store files (recordings, report exports)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .port import ObjectStore


async def get_store(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.store
    return store


StoreDep = Annotated[ObjectStore, Depends(get_store)]
