"""Fixtures for the tenant-isolation matrix: the app with a local object store of the test's own (recordings and
report exports work), tenant A with its data made on demand (`a`), tenant B with a user of each role (`b`), and the
event-stream server of tests/events."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.core.runtime import Runtime
from engage.recordings.uploader import Uploader, UploaderConfig
from engage.storage.local import LocalStore

from ...events.conftest import record, serve  # noqa: F401 - fixtures for this package
from ...factories import Factory
from ...local_store_app import client, settings, store  # noqa: F401 - fixtures for this package
from ...recordings.conftest import recordings_dir  # noqa: F401 - a fixture for this package
from .world import TenantData


@pytest.fixture
def uploader(
    runtime: Runtime,
    store: LocalStore,  # noqa: F811 - the fixture imported above
    clock: ManualClock,
    recordings_dir: Path,  # noqa: F811 - the fixture imported above
) -> Uploader:
    return Uploader(runtime.sessions, store, clock, UploaderConfig(recordings_dir=recordings_dir))


@pytest.fixture
async def a(
    factory: Factory,
    client: httpx.AsyncClient,  # noqa: F811
    runtime: Runtime,
    clock: ManualClock,
    recordings_dir: Path,  # noqa: F811 - the fixture imported above
    uploader: Uploader,
) -> TenantData:
    """Tenant A: the tenant whose data is looked for."""
    return await TenantData.create("Acme", factory, client, runtime, clock, recordings_dir, uploader)


@pytest.fixture
async def b(
    factory: Factory,
    client: httpx.AsyncClient,  # noqa: F811
    runtime: Runtime,
    clock: ManualClock,
    recordings_dir: Path,  # noqa: F811 - the fixture imported above
    uploader: Uploader,
) -> TenantData:
    """Tenant B: the tenant whose users ask."""
    return await TenantData.create("Globex", factory, client, runtime, clock, recordings_dir, uploader)
