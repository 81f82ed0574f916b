"""Alembic environment. `engage migrate` passes an open connection (as the schema owner) in
`config.attributes["connection"]`; plain `alembic` commands use ENGAGE_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from engage.core.db import create_owner_engine
from engage.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_env() -> None:
    url = os.environ.get("ENGAGE_DATABASE_URL")
    if not url:
        raise SystemExit("set ENGAGE_DATABASE_URL, or use `engage migrate`")
    engine = create_owner_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    asyncio.run(_run_from_env())
