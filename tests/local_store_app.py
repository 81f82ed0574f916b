"""Fixtures for the tests of what Engage stores itself (recordings, report exports): settings with a data dir of the
test's own, a local object store signing with the test's clock, and the app serving that store's signed URLs.
Imported by the conftest.py of each package that uses them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from engage.config import DatabaseSettings, JwtSettings, Settings
from engage.core.clock import ManualClock
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.storage.local import LocalStore

from .conftest import ClientFor

PUBLIC_URL = "http://engage.test"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        public_url=PUBLIC_URL,
        database=DatabaseSettings(url=database_url),
        jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(40))),
    )


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> LocalStore:
    return LocalStore(tmp_path / "objects", public_url=PUBLIC_URL, signing_key=secrets.token_bytes(32), clock=clock)


@pytest.fixture
async def client(
    settings: Settings, runtime: Runtime, client_for: ClientFor, store: LocalStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime=runtime)
    app.state.store = store
    async with client_for(app) as client:
        yield client
