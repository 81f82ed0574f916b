"""PostgreSQL access: the engine, sessions, the declarative base, and tenant scoping.

Invariants:
- Every connection the application opens runs as the role `engage_app` (set as the `role` startup
  parameter), which is neither superuser nor BYPASSRLS; row-level security therefore applies to every
  statement, whatever login the operator configured. Only Alembic migrations run as the login itself.
- A transaction sees one tenant: `scope_to_tenant` sets `app.tenant_id` with `set_config(..., true)`, so the
  setting dies with the transaction and can never leak to the next user of a pooled connection.
- A server out of reach (stopped, restarting, a dropped connection) is told apart from a bug by
  `database_unavailable`, so the edge answers 503 and callers retry; the pool replaces dead connections by itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar

import asyncpg
from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.util import greenlet_spawn

from .sql import remember_driver

APP_ROLE = "engage_app"

# Stable constraint names, so Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        uuid.UUID: UUID(as_uuid=True),
        dict[str, Any]: JSONB,
    }


def asyncpg_url(url: str) -> URL:
    """Accept `postgresql://…` (as psql and the embedded server print it) and drive it with asyncpg."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(f"unsupported database driver {parsed.drivername!r}; use postgresql://")
    return parsed


def create_engine(url: str, *, pool_size: int = 10, statement_timeout_ms: int = 30_000) -> AsyncEngine:
    """The application engine: every connection runs as `engage_app`, under RLS."""
    engine = create_async_engine(
        asyncpg_url(url),
        # Up to twice `pool_size` connections, as a `pool_size` with as much overflow allowed before, but all of
        # them kept: an overflow connection is closed when it is handed back, so under a steady load of more
        # concurrent requests than `pool_size` the pool reconnected all the time (30 new backends in 5 s of
        # `GET /v1/agents/state` at 16 connections), each connection a backend fork, a login and every statement
        # prepared anew.
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "role": APP_ROLE,
                "statement_timeout": str(statement_timeout_ms),
                "timezone": "UTC",
                "application_name": "engage",
            },
            "timeout": 10,
        },
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, a terminated backend) is swapped for a new one at
    checkout, without a round trip: asyncpg notices the closed socket as soon as the event loop reads it.

    This replaces `pool_pre_ping`, which cost three round trips (BEGIN, an empty query, ROLLBACK) on every
    checkout, as many as the request's own work (`engage bench api`). A connection that dies without the socket
    closing fails its request once and is discarded (SQLAlchemy invalidates it on the disconnect error)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


# What asyncpg raises when the server is out of reach rather than refusing the statement: a lost or failed
# connection (SQLSTATE class 08), a server shutting down or still starting (57P01-57P03).
_SERVER_GONE = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)


def database_unavailable(error: BaseException) -> bool:
    """True when `error`, or an error behind it, says the database server cannot be reached or dropped the
    connection: the same request can succeed unchanged once the server is back (a 503, not a 500).

    Connecting to a stopped server fails with a bare OSError (refused, or no Unix socket) that SQLAlchemy passes
    through unwrapped; it counts only when raised inside the driver, so a file or network error of our own is
    still a bug."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        link = pending.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, _SERVER_GONE):
            return True
        if isinstance(link, OSError | TimeoutError) and _raised_in_driver(link.__traceback__):
            return True
        if isinstance(link, BaseExceptionGroup):
            pending.extend(link.exceptions)
        pending.extend(cause for cause in (link.__cause__, link.__context__) if cause is not None)
    return False


def _raised_in_driver(trace: TracebackType | None) -> bool:
    while trace is not None:
        if str(trace.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg."):
            return True
        trace = trace.tb_next
    return False


def create_owner_engine(url: str) -> AsyncEngine:
    """The schema owner's engine: migrations only. Never used to serve a request."""
    return create_async_engine(
        asyncpg_url(url),
        poolclass=NullPool,
        connect_args={"server_settings": {"timezone": "UTC", "application_name": "engage-migrate"}, "timeout": 10},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def scope_to_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Make every row-level-security policy in this transaction see `tenant_id` and nothing else."""
    await session.execute(text("SELECT set_config('app.tenant_id', :tenant_id, true)"), {"tenant_id": str(tenant_id)})


@asynccontextmanager
async def tenant_transaction(
    sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID
) -> AsyncIterator[AsyncSession]:
    """One transaction scoped to one tenant: commits on success, rolls back on any exception.

    The transaction's start and its tenant scope travel in one round trip (`BEGIN; SELECT set_config(...)`, one
    simple-protocol message), where SQLAlchemy would send BEGIN and then the scoping statement: a request's
    whole conversation with PostgreSQL is then that message, its own statements and COMMIT. SQLAlchemy runs the
    connection in autocommit mode for this (so it sends no BEGIN or COMMIT of its own) and flushes as usual;
    this block sends COMMIT, or ROLLBACK on any exception, then lets the session finish, so `after_commit`
    hooks run once the transaction is durable.

    A connection whose transaction did not end cleanly (the server went away mid-statement, or ROLLBACK failed) is
    dropped from the pool, as `tenant_reads` does: SQLAlchemy never saw the driver's error, and returned to the
    pool such a connection failed the next request that took it ("another operation is in progress").
    """
    scope = uuid.UUID(str(tenant_id))  # renders as hex digits and dashes only: safe to put in the statement
    async with sessions() as session:
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        driver = (await connection.get_raw_connection()).driver_connection
        if driver is None:
            raise RuntimeError("the pooled connection has no asyncpg connection")
        ended = False  # the transaction ended cleanly: the connection can go back to the pool
        try:
            await driver.execute(
                f"BEGIN ISOLATION LEVEL READ COMMITTED; SELECT set_config('app.tenant_id', '{scope}', true)"
            )
            remember_driver(session, driver)
            try:
                yield session
                await session.flush()
                await driver.execute("COMMIT")
            except BaseException:
                if not driver.is_closed():
                    await driver.execute("ROLLBACK")
                    ended = True
                    await session.rollback()
                raise
            ended = True
        finally:
            if not ended:
                await connection.invalidate()
        await session.commit()


@asynccontextmanager
async def tenant_reads(engine: AsyncEngine, tenant_id: uuid.UUID) -> AsyncIterator[asyncpg.Connection]:
    """A read-only transaction scoped to one tenant, on a pooled connection driven with asyncpg directly: for the
    read routes that run only compiled statements (`core.sql`), without a session's bookkeeping (a session, its
    connection wrapper and its commit cost more CPU than the reads themselves: `engage bench api`).

    Same pool, same role, same scoping message as `tenant_transaction`; `READ ONLY`, so a write here fails. A
    connection whose ROLLBACK fails is dropped from the pool rather than returned to it."""
    async with _direct(engine, tenant_id, "READ ONLY") as connection:
        yield connection


@asynccontextmanager
async def tenant_writes(engine: AsyncEngine, tenant_id: uuid.UUID) -> AsyncIterator[asyncpg.Connection]:
    """`tenant_reads` that may write: for a route whose writes are compiled statements too (the compliance
    check's audit). Commits when the block ends, rolls back on any exception."""
    async with _direct(engine, tenant_id, "READ WRITE") as connection:
        yield connection


@asynccontextmanager
async def _direct(engine: AsyncEngine, tenant_id: uuid.UUID, access: str) -> AsyncIterator[asyncpg.Connection]:
    scope = uuid.UUID(str(tenant_id))  # renders as hex digits and dashes only: safe to put in the statement
    pooled = await engine.raw_connection()
    ended = False  # the transaction ended cleanly: the connection can go back to the pool
    try:
        driver: asyncpg.Connection | None = pooled.driver_connection
        if driver is None:
            raise RuntimeError("the pooled connection has no asyncpg connection")
        await driver.execute(
            f"BEGIN ISOLATION LEVEL READ COMMITTED {access}; SELECT set_config('app.tenant_id', '{scope}', true)"
        )
        try:
            yield driver
        except BaseException:
            await driver.execute("ROLLBACK")
            ended = True
            raise
        await driver.execute("COMMIT")
        ended = True
    finally:
        if not ended:
            await greenlet_spawn(pooled.invalidate)
        await greenlet_spawn(pooled.close)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once, when the session's transaction commits (never if it rolls back): for process-local
    caches that must forget what the transaction changed only once others can read the change."""
    event.listen(session.sync_session, "after_commit", lambda _: callback(), once=True)


@asynccontextmanager
async def unscoped_transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A transaction with no tenant: RLS hides every tenant-owned row; only platform tables and the
    SECURITY DEFINER look-ups (login by email, refresh by token hash) are usable."""
    async with sessions() as session, session.begin():
        yield session


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - readiness reports any failure as "not ready"
        return False
    return True


def violated_constraint(error: IntegrityError) -> str | None:
    """The name of the constraint an INSERT/UPDATE broke, as asyncpg reports it."""
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)
    return str(name) if name else None


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead (the embedded server and test runs make their own)."""
    return asyncpg_url(url).set(database=name).render_as_string(hide_password=False)


async def create_database_if_missing(server_url: str, name: str) -> None:
    """CREATE DATABASE cannot run inside a transaction, so this talks to asyncpg directly."""
    url = asyncpg_url(server_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=10)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(server_url: str, name: str) -> None:
    url = asyncpg_url(server_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
