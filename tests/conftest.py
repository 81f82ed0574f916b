"""Test fixtures: a real, freshly migrated PostgreSQL database for the run; the app over ASGI.

Database: `ENGAGE_TEST_DATABASE_URL` when set, else the server on 127.0.0.1:5432 when it answers, else
the embedded PostgreSQL (started in a temporary folder for the run). A new database is created for the
run and dropped at the end. Tests isolate themselves by creating their own tenants (row-level security
keeps tenants apart), so every test sees real commits and nothing leaks between tests.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engage.config import DatabaseSettings, JwtSettings, Settings
from engage.core.clock import ManualClock
from engage.core.db import (
    asyncpg_url,
    create_database_if_missing,
    create_engine,
    drop_database,
    session_factory,
    with_database,
)
from engage.core.embedded_pg import EmbeddedPostgres
from engage.core.principal import Role
from engage.core.ratelimit import InMemoryCounter
from engage.core.runtime import Runtime
from engage.core.security import TokenCodec, use_password_hasher
from engage.main import create_app
from engage.migrate import migrate
from engage.tenancy.models import Tenant
from engage.tenancy.service import RateLimitCache
from engage.users.models import User
from engage.users.standing import StandingCache

from .cli.processes import clean_environment
from .factories import Factory
from .s3 import isolated_moto

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("ENGAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
START = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)


async def _answers(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> None:
    """argon2's cheapest profile for the run: production cost (64 MiB, t=3) took ~0.5 s a hash here, and
    almost every test creates users. The hashing code path is the same; only its parameters differ."""
    use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(scope="session")
def embedded_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="engage-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
async def server_url(embedded_dir: Path) -> AsyncIterator[str]:
    configured = os.environ.get("ENGAGE_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    if await _answers(LOCAL_SERVER):
        yield LOCAL_SERVER
        return
    embedded = EmbeddedPostgres(embedded_dir)
    url = await asyncio.to_thread(embedded.start)
    try:
        yield url
    finally:
        await asyncio.to_thread(embedded.stop)


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    name = f"engage_test_{secrets.token_hex(4)}"
    await create_database_if_missing(server_url, name)
    url = with_database(server_url, name)
    await migrate(url)
    try:
        yield url
    finally:
        await drop_database(server_url, name)


@pytest.fixture
async def owner(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The test database as its owner (a superuser here), so row-level security hides nothing."""
    dsn = asyncpg_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=database_url),
        jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(40))),
    )


@pytest.fixture
def runtime(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> Runtime:
    assert settings.jwt.secret is not None
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        counter=InMemoryCounter(),
        tokens=TokenCodec(
            settings.jwt.secret.get_secret_value(), settings.jwt.algorithm, settings.jwt.access_ttl_seconds
        ),
        clock=clock,
        tenant_rate_limit=RateLimitCache(sessions, default_per_minute=settings.rate.default_per_minute, ttl_seconds=0),
        access=StandingCache(sessions),
    )


ClientFor = Callable[[FastAPI], httpx.AsyncClient]


@pytest.fixture
def client_for() -> ClientFor:
    """An httpx client over an app the test built itself (`async with client_for(app) as client:`)."""

    def build(app: FastAPI) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://engage.test")

    return build


@pytest.fixture
async def client(settings: Settings, runtime: Runtime, client_for: ClientFor) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(settings, runtime=runtime)) as client:
        yield client


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server in its own process on a loopback port, for the run: its endpoint URL. Reach it with
    `tests.s3` (dummy credentials, `s3_settings`, `raw_client`, `new_bucket`); boto3 cannot read the host's AWS
    configuration while it runs."""
    with isolated_moto() as endpoint:
        yield endpoint


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def factory(runtime: Runtime) -> Factory:
    return Factory(runtime)


@pytest.fixture
async def tenant(factory: Factory) -> Tenant:
    return await factory.tenant(name="Acme")


@pytest.fixture
async def admin(factory: Factory, tenant: Tenant) -> User:
    return await factory.user(tenant, Role.admin)


@pytest.fixture
def headers(factory: Factory, admin: User) -> dict[str, str]:
    return factory.headers(admin)


@pytest.fixture
async def supervisor(factory: Factory, tenant: Tenant) -> User:
    return await factory.user(tenant, Role.supervisor, full_name="Sara Nasser")


@pytest.fixture
def supervisor_headers(factory: Factory, supervisor: User) -> dict[str, str]:
    return factory.headers(supervisor)


@pytest.fixture
async def agent(factory: Factory, tenant: Tenant) -> User:
    return await factory.user(tenant, Role.agent, full_name="Omar Haddad")


@pytest.fixture
def agent_headers(factory: Factory, agent: User) -> dict[str, str]:
    return factory.headers(agent)


@pytest.fixture
async def other_tenant(factory: Factory) -> Tenant:
    return await factory.tenant(name="Globex")


@pytest.fixture
async def other_admin(factory: Factory, other_tenant: Tenant) -> User:
    return await factory.user(other_tenant, Role.admin)


@pytest.fixture
def other_headers(factory: Factory, other_admin: User) -> dict[str, str]:
    return factory.headers(other_admin)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment an `engage` command runs with in a test: the run's database, nothing from the developer's
    shell (tests/cli overrides it with a short data folder for the embedded server)."""
    return {
        **clean_environment(),
        "ENGAGE_DATA_DIR": str(tmp_path),
        "ENGAGE_DATABASE_URL": database_url,
        "ENGAGE_LOG_LEVEL": "WARNING",
    }
