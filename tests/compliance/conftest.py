"""Fixtures for the compliance API: the clock at a chosen local time, national registry state (platform data,
written as the schema owner, as `engage registry import` does), campaigns with their caller IDs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from engage.core.clock import ManualClock
from engage.core.db import asyncpg_url


def move_to(clock: ManualClock, instant: datetime) -> None:
    clock.advance((instant - clock.now()).total_seconds())


# Sunday 29 November 2026, 10:00 in Dubai: inside every Gulf window, no holiday.
OPEN_IN_DUBAI = datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Dubai")).astimezone(UTC)


@pytest.fixture
def open_hours(clock: ManualClock) -> ManualClock:
    move_to(clock, OPEN_IN_DUBAI)
    return clock


def random_ae_mobile() -> str:
    return f"+97150{secrets.randbelow(10_000_000):07d}"


@pytest.fixture
async def owner(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The schema owner (the test server's superuser): what the app role may not do."""
    dsn = asyncpg_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        yield connection
    finally:
        await connection.close()


class Registries:
    def __init__(self, owner: asyncpg.Connection) -> None:
        self.owner = owner

    async def loaded(self, jurisdiction: str, *phones: str) -> None:
        await self.owner.execute(
            "INSERT INTO registry_loads (jurisdiction, loaded_at, count, mode, source) VALUES ($1, now(), 0, 'append', "
            "'test') ON CONFLICT (jurisdiction) DO NOTHING",
            jurisdiction,
        )
        await self.owner.executemany(
            "INSERT INTO registry_numbers (jurisdiction, phone) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(jurisdiction, phone) for phone in phones],
        )

    async def not_loaded(self, jurisdiction: str) -> None:
        await self.owner.execute("DELETE FROM registry_loads WHERE jurisdiction = $1", jurisdiction)


@pytest.fixture
async def registries(owner: asyncpg.Connection) -> Registries:
    """AE and SA registries loaded (and empty of the numbers a test uses), unless a test says otherwise."""
    registries = Registries(owner)
    await registries.loaded("AE")
    await registries.loaded("SA")
    return registries
