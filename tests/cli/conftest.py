"""Fixtures for the `engage` command tests: a short data folder, the environment a command runs with, and
a connection as the database owner to check what a command did (or did not) write."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import clean_environment, stop_postmasters


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """ENGAGE_DATA_DIR for one test, short enough for the embedded server's Unix socket (~107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="eg", dir="/tmp"))
    try:
        yield path
    finally:
        stop_postmasters(path)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def embedded_env(data_dir: Path) -> dict[str, str]:
    """No database URL and no JWT secret: the embedded default."""
    return {**clean_environment(), "ENGAGE_DATA_DIR": str(data_dir), "ENGAGE_LOG_LEVEL": "WARNING"}


@pytest.fixture
def cli_env(embedded_env: dict[str, str], database_url: str) -> dict[str, str]:
    """Pointed at the run's test database; still no JWT secret (one-shot commands need none)."""
    return {**embedded_env, "ENGAGE_DATABASE_URL": database_url}


@pytest.fixture
def serve_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "ENGAGE_JWT_SECRET": secrets.token_urlsafe(40)}
