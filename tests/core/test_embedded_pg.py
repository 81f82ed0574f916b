"""The embedded PostgreSQL (issue 2 point 2): a real server in a wheel, kept under a data folder; a second
handle re-attaches to a running server instead of starting another; stop() stops it and the data stays."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from engage.core.clock import ManualClock
from engage.core.db import (
    asyncpg_url,
    create_database_if_missing,
    create_engine,
    session_factory,
    tenant_transaction,
    unscoped_transaction,
    with_database,
)
from engage.core.embedded_pg import EmbeddedPostgres
from engage.migrate import migrate
from engage.tenancy import service as tenancy
from engage.users import service as users
from engage.users.schemas import TeamCreate

from ..cli.processes import is_running, postmasters, stop_postmasters, wait_until_gone


def _short_dir() -> Path:
    # The server's Unix socket lives in the data folder; its path must stay under ~107 bytes.
    return Path(tempfile.mkdtemp(prefix="eg", dir="/tmp"))


def _dsn(url: str) -> str:
    """A URL asyncpg itself accepts (the app's URLs name the SQLAlchemy driver)."""
    return asyncpg_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def embedded() -> Iterator[tuple[EmbeddedPostgres, str]]:
    """One embedded server for the module: started in a fresh short folder, always stopped."""
    data_dir = _short_dir()
    server = EmbeddedPostgres(data_dir)
    try:
        url = server.start()
        yield server, url
    finally:
        server.stop()
        stop_postmasters(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def scratch_database(embedded: tuple[EmbeddedPostgres, str]) -> str:
    """A database of its own on the embedded server, for tests that create objects."""
    _, url = embedded
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    await create_database_if_missing(url, name)
    return with_database(url, name)


class TestRealPostgres:
    async def test_start_returns_a_url_asyncpg_connects_to_as_a_superuser_of_a_real_postgresql(
        self, embedded: tuple[EmbeddedPostgres, str]
    ) -> None:
        server, url = embedded

        connection = await asyncpg.connect(_dsn(url), timeout=10)
        try:
            version = await connection.fetchval("SELECT version()")
            version_num = int(await connection.fetchval("SHOW server_version_num"))
            superuser = await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        finally:
            await connection.close()

        assert server.attached is False
        assert version.startswith("PostgreSQL ")
        assert version_num >= 150000
        assert superuser is True

    async def test_pg_trgm_unaccent_and_full_text_search_work(self, scratch_database: str) -> None:
        connection = await asyncpg.connect(_dsn(scratch_database), timeout=10)
        try:
            await connection.execute("CREATE EXTENSION pg_trgm")
            await connection.execute("CREATE EXTENSION unaccent")
            similarity = await connection.fetchval("SELECT similarity('Mohammed', 'Mohamed')")
            unaccented = await connection.fetchval("SELECT unaccent('Société Générale')")
            matches = await connection.fetchval(
                "SELECT to_tsvector('english', 'Agents called about renewals')"
                " @@ to_tsquery('english', 'agent & renewal')"
            )
        finally:
            await connection.close()

        assert similarity > 0.5
        assert unaccented == "Societe Generale"
        assert matches is True

    async def test_for_update_skip_locked_hands_a_second_worker_the_next_row(self, scratch_database: str) -> None:
        first = await asyncpg.connect(_dsn(scratch_database), timeout=10)
        second = await asyncpg.connect(_dsn(scratch_database), timeout=10)
        claim = "SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
        try:
            await first.execute("CREATE TABLE jobs (id int PRIMARY KEY); INSERT INTO jobs VALUES (1), (2)")
            async with first.transaction(), second.transaction():
                taken_by_first = await first.fetchval(claim)
                taken_by_second = await second.fetchval(claim)
                left_for_a_third = await second.fetchval(claim.replace("LIMIT 1", "OFFSET 1 LIMIT 1"))
        finally:
            await first.close()
            await second.close()

        assert (taken_by_first, taken_by_second, left_for_a_third) == (1, 2, None)

    async def test_notify_is_delivered_to_a_listening_connection(self, scratch_database: str) -> None:
        listener = await asyncpg.connect(_dsn(scratch_database), timeout=10)
        sender = await asyncpg.connect(_dsn(scratch_database), timeout=10)
        received: asyncio.Queue[str] = asyncio.Queue()
        try:
            await listener.add_listener("engage_events", lambda *args: received.put_nowait(args[3]))
            await sender.execute("SELECT pg_notify('engage_events', 'call.answered')")
            payload = await asyncio.wait_for(received.get(), timeout=10)
        finally:
            await listener.close()
            await sender.close()

        assert payload == "call.answered"


class TestReattach:
    async def test_a_second_handle_on_the_same_folder_attaches_to_the_running_postmaster(
        self, embedded: tuple[EmbeddedPostgres, str]
    ) -> None:
        server, url = embedded
        second = EmbeddedPostgres(server.pgdata.parent)

        second_url = await asyncio.to_thread(second.start)
        connection = await asyncpg.connect(_dsn(second_url), timeout=10)
        await connection.close()

        # Not stopped here: the module's fixture owns the server both handles point at.
        assert second.attached is True
        assert second.pid == server.pid
        assert second_url == url
        assert [p.pid for p in postmasters(server.pgdata.parent)] == [server.pid]

    async def test_another_process_attaches_to_the_running_postmaster_instead_of_starting_one(
        self, embedded: tuple[EmbeddedPostgres, str]
    ) -> None:
        server, _ = embedded
        script = (
            "import json, sys\n"
            "from pathlib import Path\n"
            "from engage.core.embedded_pg import EmbeddedPostgres\n"
            "e = EmbeddedPostgres(Path(sys.argv[1]))\n"
            "e.start()\n"
            "print(json.dumps({'pid': e.pid, 'attached': e.attached}))\n"
        )

        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script, str(server.pgdata.parent)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert result.returncode == 0, result.stderr
        # structlog's default output shares stdout; the script's answer is the last line.
        assert json.loads(result.stdout.splitlines()[-1]) == {"pid": server.pid, "attached": True}
        assert is_running(server.pid)
        assert [p.pid for p in postmasters(server.pgdata.parent)] == [server.pid]


class TestStop:
    async def test_stop_ends_the_postmaster_and_a_later_start_serves_the_same_data(self) -> None:
        data_dir = _short_dir()
        first = EmbeddedPostgres(data_dir)
        again = EmbeddedPostgres(data_dir)
        try:
            url = await asyncio.to_thread(first.start)
            first_pid = first.pid
            assert first_pid is not None
            connection = await asyncpg.connect(_dsn(url), timeout=10)
            await connection.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
            await connection.close()

            await asyncio.to_thread(first.stop)
            stopped = await asyncio.to_thread(wait_until_gone, first_pid)
            pid_file_left = (data_dir / "pg" / "postmaster.pid").exists()
            url_again = await asyncio.to_thread(again.start)
            connection = await asyncpg.connect(_dsn(url_again), timeout=10)
            kept = await connection.fetchval("SELECT n FROM kept")
            await connection.close()
        finally:
            await asyncio.to_thread(again.stop)
            await asyncio.to_thread(first.stop)
            stop_postmasters(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)

        assert stopped is True
        assert pid_file_left is False
        assert again.attached is False
        assert kept == 42

    async def test_stop_of_a_handle_that_never_started_is_a_no_op(self) -> None:
        data_dir = _short_dir()
        try:
            EmbeddedPostgres(data_dir).stop()

            assert not (data_dir / "pg").exists()
            assert postmasters(data_dir) == []
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


class TestMigrationsOnEmbedded:
    async def test_migrations_apply_and_row_level_security_hides_another_tenants_rows(
        self, scratch_database: str
    ) -> None:
        await migrate(scratch_database)
        engine = create_engine(scratch_database, pool_size=2)
        sessions = session_factory(engine)
        clock = ManualClock(datetime(2026, 6, 12, 10, 0, tzinfo=UTC))
        try:
            async with unscoped_transaction(sessions) as session:
                a = await tenancy.create(
                    session, name="A", timezone="Asia/Dubai", country="AE", rate_limit_per_minute=2000, clock=clock
                )
                b = await tenancy.create(
                    session, name="B", timezone="Asia/Riyadh", country="SA", rate_limit_per_minute=2000, clock=clock
                )
            for tenant in (a, b):
                async with tenant_transaction(sessions, tenant.id) as session:
                    await users.create_team(session, tenant.id, TeamCreate(name=f"{tenant.name} team"), clock=clock)

            async with tenant_transaction(sessions, a.id) as session:
                role = (
                    await session.execute(
                        text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                    )
                ).one()
                team_names = set((await session.execute(text("SELECT name FROM teams"))).scalars())
                tenant_ids = set((await session.execute(text("SELECT id FROM tenants"))).scalars())
        finally:
            await engine.dispose()

        assert tuple(role) == ("engage_app", False, False)
        assert team_names == {"A team"}
        assert tenant_ids == {a.id}

    async def test_migrating_again_is_a_no_op(self, scratch_database: str) -> None:
        await migrate(scratch_database)
        connection = await asyncpg.connect(_dsn(scratch_database), timeout=10)
        try:
            before = await connection.fetchval("SELECT version_num FROM alembic_version")
            await migrate(scratch_database)
            after = await connection.fetchval("SELECT version_num FROM alembic_version")
        finally:
            await connection.close()

        assert before == after
