"""Fixtures for the HTTP edge, rate-limit and logging tests: apps built per test, Redis keys of one test only,
captured JSON log lines, and a port on which nothing listens."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import structlog
from redis.asyncio import Redis

from engage.core.logging import configure_logging

from ..conftest import REDIS_URL

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix no other test uses; its keys, and only those, are deleted afterwards."""
    prefix = f"engage:test:{secrets.token_hex(6)}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """The production logging set-up, writing into a buffer; returns the JSON lines written so far."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("INFO", stream=buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield lines
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()
