"""Fixtures for the object stores: a local store under the test's own folder with the suite's manual clock, the
file route in a minimal app (the problem handlers and request-id middleware `create_app` installs, no
database), and S3 stores on a fresh bucket of the run's moto server (`moto_endpoint`, tests/conftest.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from engage.core.clock import ManualClock
from engage.core.errors import install_problem_handlers
from engage.core.http import RequestContextMiddleware
from engage.storage.api import router
from engage.storage.local import LocalStore
from engage.storage.s3 import S3Store

from ..s3 import new_bucket, raw_client, s3_settings

PUBLIC_URL = "http://engage.test"


@pytest.fixture
def signing_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "objects"


@pytest.fixture
def store(root: Path, signing_key: bytes, clock: ManualClock) -> LocalStore:
    return LocalStore(root, public_url=PUBLIC_URL, signing_key=signing_key, clock=clock)


def files_app(store: object) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=1024 * 1024)
    app.include_router(router)
    app.state.store = store
    return app


@pytest.fixture
async def files(store: LocalStore) -> AsyncIterator[httpx.AsyncClient]:
    """The file route over ASGI, serving `store`; URLs the store signs can be fetched as they are."""
    transport = httpx.ASGITransport(app=files_app(store), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


@pytest.fixture(scope="session")
def s3(moto_endpoint: str) -> Any:
    client = raw_client(moto_endpoint)
    yield client
    client.close()


@pytest.fixture
def bucket(s3: Any) -> str:
    return new_bucket(s3)


S3StoreFor = Callable[..., S3Store]


@pytest.fixture
async def s3_store_for(moto_endpoint: str, bucket: str) -> AsyncIterator[S3StoreFor]:
    """`s3_store_for(prefix="", **settings)`: an S3Store on the test's bucket; every one made is closed after."""
    made: list[S3Store] = []

    def build(prefix: str = "", **overrides: Any) -> S3Store:
        made.append(S3Store(bucket=bucket, prefix=prefix, settings=s3_settings(moto_endpoint, **overrides)))
        return made[-1]

    yield build
    for store in made:
        await store.close()
