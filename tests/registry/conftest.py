"""Fixtures for the national registries: files written to a temporary folder, imports through the real
service, and the registry tables read and cleaned as the database owner.

Registries are platform data, shared by every test of the run, so each test claims the jurisdictions it
loads with `Registries.use`, which empties them before the test and again after it. These tests keep to
jurisdictions no rule set ships (AE, SA, EG and JO are the compliance engine's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from engage.core.clock import ManualClock
from engage.core.db import asyncpg_url
from engage.registry import service
from engage.registry.service import ImportResult


@dataclass(frozen=True)
class Load:
    jurisdiction: str
    loaded_at: datetime
    count: int
    mode: str
    source: str


@dataclass
class Registries:
    owner: asyncpg.Connection
    database_url: str
    clock: ManualClock
    folder: Path
    used: set[str] = field(default_factory=set)

    async def use(self, jurisdiction: str) -> str:
        """Claim `jurisdiction` for this test: its registry is empty and never loaded, now and after the test."""
        await self.clear(jurisdiction)
        self.used.add(jurisdiction)
        return jurisdiction

    async def clear(self, jurisdiction: str) -> None:
        async with self.owner.transaction():
            await self.owner.execute("DELETE FROM registry_numbers WHERE jurisdiction = $1", jurisdiction)
            await self.owner.execute("DELETE FROM registry_loads WHERE jurisdiction = $1", jurisdiction)

    async def phones(self, jurisdiction: str) -> list[str]:
        rows = await self.owner.fetch(
            "SELECT phone FROM registry_numbers WHERE jurisdiction = $1 ORDER BY phone", jurisdiction
        )
        return [row["phone"] for row in rows]

    async def count(self, jurisdiction: str) -> int:
        count: int = await self.owner.fetchval(
            "SELECT count(*) FROM registry_numbers WHERE jurisdiction = $1", jurisdiction
        )
        return count

    async def load(self, jurisdiction: str) -> Load | None:
        row = await self.owner.fetchrow("SELECT * FROM registry_loads WHERE jurisdiction = $1", jurisdiction)
        return Load(**row) if row is not None else None

    def write(self, text: str, name: str = "registry.txt", *, encoding: str = "utf-8") -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding=encoding, newline="")
        return path

    async def import_file(
        self, jurisdiction: str, path: Path, *, replace: bool = False, chunk_size: int = service.IMPORT_CHUNK
    ) -> ImportResult:
        return await service.import_registry(
            self.database_url, jurisdiction, path, replace=replace, clock=self.clock, chunk_size=chunk_size
        )

    async def import_lines(
        self, jurisdiction: str, lines: Sequence[str], *, replace: bool = False, name: str = "registry.txt"
    ) -> ImportResult:
        return await self.import_file(jurisdiction, self.write("\n".join(lines) + "\n", name), replace=replace)


def owner_dsn(database_url: str) -> str:
    return asyncpg_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def owner(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The test database as its owner: the login registry imports run as."""
    connection = await asyncpg.connect(owner_dsn(database_url), timeout=10)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def registries(
    owner: asyncpg.Connection, database_url: str, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Registries]:
    registries = Registries(owner, database_url, clock, tmp_path)
    yield registries
    for jurisdiction in registries.used:
        await registries.clear(jurisdiction)
