"""The `engage` command line as a user runs it (DESIGN.md §2, issue 2 point 8): a real process, real
PostgreSQL. Created objects are JSON on stdout; failures are RFC 7807-shaped JSON on stderr and a non-zero
exit status, and leave nothing behind."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from engage.cli import _override_api, build_parser
from engage.config import Settings
from engage.core.principal import Role

from ..factories import Factory
from .processes import clean_environment, free_port, postmasters, run_engage

PROBLEM_BASE = "https://engage.broadnet.me/errors/"
PASSWORD = "correct horse battery"
DEMO_TENANT_NAME = "Demo Contact Centre"


def _assert_problem(body: dict[str, Any], status: int) -> None:
    assert body["type"].startswith(PROBLEM_BASE)
    assert body["title"]
    assert body["status"] == status
    assert body["detail"]


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password})


class TestHelp:
    async def test_help_lists_every_command(self, embedded_env: dict[str, str]) -> None:
        result = await run_engage("--help", env=embedded_env)

        assert result.returncode == 0
        for command in ("serve", "api", "migrate", "demo", "tenant", "user", "bench"):
            assert f"    {command} " in result.stdout, command


class TestMigrate:
    async def test_migrate_prints_migrated_true(self, cli_env: dict[str, str]) -> None:
        result = await run_engage("migrate", env=cli_env)

        assert result.returncode == 0, result.stderr
        assert result.json() == {"migrated": True}


class TestTenantCreate:
    async def test_prints_the_created_tenant_as_json_with_a_uuid7_and_a_utc_timestamp(
        self, cli_env: dict[str, str], owner: asyncpg.Connection
    ) -> None:
        name = f"Riyadh {uuid.uuid4().hex[:8]}"

        result = await run_engage(
            "tenant", "create", "--name", name, "--timezone", "Asia/Riyadh", "--country", "SA", env=cli_env
        )

        assert result.returncode == 0, result.stderr
        tenant = result.json()
        assert uuid.UUID(tenant["id"]).version == 7
        assert tenant["name"] == name
        assert tenant["timezone"] == "Asia/Riyadh"
        assert tenant["country"] == "SA"
        assert tenant["rate_limit_per_minute"] == 2000
        assert tenant["created_at"].endswith("Z")
        stored = await owner.fetchrow(
            "SELECT name, timezone, country FROM tenants WHERE id = $1", uuid.UUID(tenant["id"])
        )
        assert tuple(stored) == (name, "Asia/Riyadh", "SA")

    async def test_created_object_is_the_only_thing_on_stdout_even_when_logging_at_info(
        self, cli_env: dict[str, str]
    ) -> None:
        # Migrations log at INFO on every command; those lines belong on stderr, not in the JSON.
        result = await run_engage("tenant", "create", "--name", "Chatty", env={**cli_env, "ENGAGE_LOG_LEVEL": "INFO"})

        assert result.returncode == 0, result.stderr
        assert result.json()["name"] == "Chatty"

    @pytest.mark.parametrize(
        ("option", "value"),
        [("--timezone", "Mars/Olympus_Mons"), ("--country", "SAU")],
    )
    async def test_invalid_timezone_or_country_is_a_problem_on_stderr_and_creates_nothing(
        self, cli_env: dict[str, str], owner: asyncpg.Connection, option: str, value: str
    ) -> None:
        name = f"Invalid {uuid.uuid4().hex[:8]}"

        result = await run_engage("tenant", "create", "--name", name, option, value, env=cli_env)

        assert result.returncode != 0
        assert result.stdout == ""
        problem = result.problem()
        _assert_problem(problem, 400)
        assert value in problem["detail"]
        assert await owner.fetchval("SELECT count(*) FROM tenants WHERE name = $1", name) == 0


class TestUserCreate:
    async def test_prints_the_created_user_without_any_password_field(
        self, cli_env: dict[str, str], factory: Factory, owner: asyncpg.Connection
    ) -> None:
        tenant = await factory.tenant(name="Cli users")
        email = f"layla.{uuid.uuid4().hex[:8]}@acme.test"
        sip_user = f"agent_{uuid.uuid4().hex[:8]}"  # unique in the installation, like the demo's agent_1001

        result = await run_engage(
            "user", "create", "--tenant", str(tenant.id), "--email", email.upper(), "--password", PASSWORD,
            "--role", "agent", "--sip-user", sip_user, "--full-name", "Layla Ahmed",
            env=cli_env,
        )  # fmt: skip

        assert result.returncode == 0, result.stderr
        user = result.json()
        assert uuid.UUID(user["id"]).version == 7
        assert user["tenant_id"] == str(tenant.id)
        assert user["email"] == email
        assert user["role"] == "agent"
        assert user["sip_user"] == sip_user
        assert user["full_name"] == "Layla Ahmed"
        assert not [key for key in user if "password" in key or "hash" in key]
        assert PASSWORD not in result.stdout
        assert "$argon2" not in result.stdout
        stored_hash = await owner.fetchval("SELECT password_hash FROM users WHERE id = $1", uuid.UUID(user["id"]))
        assert stored_hash.startswith("$argon2id$")
        # The command line hashes at production cost (RFC 9106's second recommendation), not the tests'.
        assert "$m=65536,t=3,p=4$" in stored_hash

    async def test_user_created_on_the_command_line_can_log_in(
        self, cli_env: dict[str, str], factory: Factory, client: httpx.AsyncClient
    ) -> None:
        tenant = await factory.tenant(name="Cli login")
        email = f"admin.{uuid.uuid4().hex[:8]}@acme.test"

        created = await run_engage(
            "user", "create", "--tenant", str(tenant.id), "--email", email, "--password", PASSWORD, "--role", "admin",
            env=cli_env,
        )  # fmt: skip
        login = await _login(client, email, PASSWORD)

        assert created.returncode == 0, created.stderr
        assert login.status_code == 200, login.text
        assert login.json()["user"]["tenant_id"] == str(tenant.id)
        assert login.json()["user"]["role"] == "admin"

    async def test_unknown_tenant_is_a_404_problem_and_creates_nothing(
        self, cli_env: dict[str, str], owner: asyncpg.Connection
    ) -> None:
        email = f"nobody.{uuid.uuid4().hex[:8]}@acme.test"

        result = await run_engage(
            "user", "create", "--tenant", str(uuid.uuid4()), "--email", email, "--password", PASSWORD,
            "--role", "agent",
            env=cli_env,
        )  # fmt: skip

        assert result.returncode != 0
        assert result.stdout == ""
        _assert_problem(result.problem(), 404)
        assert await owner.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0

    async def test_email_already_in_use_in_any_tenant_is_a_409_problem(
        self, cli_env: dict[str, str], factory: Factory, owner: asyncpg.Connection
    ) -> None:
        first = await factory.tenant(name="First")
        second = await factory.tenant(name="Second")
        email = f"taken.{uuid.uuid4().hex[:8]}@acme.test"
        await factory.user(first, Role.agent, email=email)

        result = await run_engage(
            "user", "create", "--tenant", str(second.id), "--email", email.upper(), "--password", PASSWORD,
            "--role", "agent",
            env=cli_env,
        )  # fmt: skip

        assert result.returncode != 0
        assert result.stdout == ""
        problem = result.problem()
        _assert_problem(problem, 409)
        assert problem["type"] == PROBLEM_BASE + "email-taken"
        assert await owner.fetchval("SELECT count(*) FROM users WHERE lower(email) = $1", email) == 1

    async def test_password_shorter_than_12_characters_is_a_400_problem_that_does_not_echo_it(
        self, cli_env: dict[str, str], factory: Factory
    ) -> None:
        tenant = await factory.tenant(name="Short password")

        result = await run_engage(
            "user", "create", "--tenant", str(tenant.id), "--email", "short@acme.test", "--password", "tooshort",
            "--role", "agent",
            env=cli_env,
        )  # fmt: skip

        assert result.returncode != 0
        assert result.stdout == ""
        _assert_problem(result.problem(), 400)
        assert "tooshort" not in result.stderr


@pytest.fixture(scope="module")
async def demo_runs(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """`engage demo`, run twice against the test database."""
    env = {
        **clean_environment(),
        "ENGAGE_DATA_DIR": str(tmp_path_factory.mktemp("demo")),
        "ENGAGE_LOG_LEVEL": "WARNING",
        "ENGAGE_DATABASE_URL": database_url,
    }
    first = await run_engage("demo", env=env)
    second = await run_engage("demo", env=env)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    return first.json(), second.json()


class TestDemo:
    async def test_demo_creates_an_admin_a_supervisor_and_two_agents_and_prints_their_logins(
        self, demo_runs: tuple[Any, Any], owner: asyncpg.Connection
    ) -> None:
        first, _ = demo_runs

        stored = await owner.fetch("SELECT email, role FROM users WHERE tenant_id = $1", uuid.UUID(first["tenant_id"]))

        assert sorted(login["role"] for login in first["logins"]) == ["admin", "agent", "agent", "supervisor"]
        assert {(login["email"], login["role"]) for login in first["logins"]} == {
            (row["email"], row["role"]) for row in stored
        }
        assert all(len(login["password"]) >= 12 for login in first["logins"])

    async def test_running_demo_twice_keeps_one_demo_tenant(
        self, demo_runs: tuple[Any, Any], owner: asyncpg.Connection
    ) -> None:
        first, second = demo_runs

        tenants = await owner.fetch("SELECT id FROM tenants WHERE name = $1", DEMO_TENANT_NAME)
        demo_users = await owner.fetch(
            "SELECT role, sip_user FROM users WHERE tenant_id = $1 ORDER BY role, sip_user",
            uuid.UUID(first["tenant_id"]),
        )

        assert second["tenant_id"] == first["tenant_id"]
        assert [str(row["id"]) for row in tenants] == [first["tenant_id"]]
        assert [(row["role"], row["sip_user"]) for row in demo_users] == [
            ("admin", None),
            ("agent", "agent_1001"),
            ("agent", "agent_1002"),
            ("supervisor", None),
        ]

    async def test_running_demo_again_prints_new_passwords_that_work_and_retires_the_old_ones(
        self, demo_runs: tuple[Any, Any], client: httpx.AsyncClient
    ) -> None:
        first, second = demo_runs
        old = {login["email"]: login["password"] for login in first["logins"]}

        for login in second["logins"]:
            assert login["password"] != old[login["email"]]
            fresh = await _login(client, login["email"], login["password"])
            assert fresh.status_code == 200, fresh.text
            assert fresh.json()["user"]["role"] == login["role"]
            assert fresh.json()["user"]["tenant_id"] == second["tenant_id"]
        stale = await _login(client, second["logins"][0]["email"], old[second["logins"][0]["email"]])
        assert stale.status_code == 401


class TestRefusesToServeWithoutASecureJwtSecret:
    @pytest.mark.parametrize(
        ("command", "secret", "reason"),
        [
            (["api"], None, "ENGAGE_JWT_SECRET is not set"),
            (["serve"], None, "ENGAGE_JWT_SECRET is not set"),
            (["api"], "changeme", "ENGAGE_JWT_SECRET is a placeholder"),
            (["serve"], "changeme", "ENGAGE_JWT_SECRET is a placeholder"),
            # Demo mode may only fill a missing secret, never accept a weak one.
            (["serve", "--demo"], "changeme", "ENGAGE_JWT_SECRET is a placeholder"),
        ],
    )
    async def test_a_missing_or_weak_secret_with_a_configured_database_refuses_to_start_with_a_problem(
        self, cli_env: dict[str, str], command: list[str], secret: str | None, reason: str
    ) -> None:
        env = cli_env if secret is None else {**cli_env, "ENGAGE_JWT_SECRET": secret}

        result = await run_engage(*command, "--port", str(free_port()), env=env, limit_seconds=60)

        assert result.returncode != 0
        problem = result.problem()
        _assert_problem(problem, 400)
        assert problem["type"] == PROBLEM_BASE + "insecure-jwt-secret"
        assert reason in problem["detail"]
        assert "Traceback" not in result.stderr + result.stdout


class TestBench:
    async def test_bench_api_prints_each_endpoint_beside_the_reference_as_json(self, cli_env: dict[str, str]) -> None:
        result = await run_engage(
            "bench", "api", "--seconds", "1", "--concurrency", "4", "--contacts", "500", "--rounds", "2", env=cli_env,
            limit_seconds=400,
        )  # fmt: skip

        assert result.returncode == 0, result.stderr
        figures = result.json()
        # Shape only: benchmarks print figures, tests never judge wall-clock numbers (STYLE.md 14).
        assert figures["benchmark"] == "api"
        assert (figures["connections"], figures["rounds"]) == (4, 2)
        rows = figures["endpoints"]
        listing = "GET /v1/campaigns?limit=20"
        assert [(r["endpoint"], r["contacts_in_tenant"]) for r in rows] == [
            ("reference GET /reference/campaigns?limit=20", 0),
            (listing, 0),
            ("reference GET /reference/campaigns?limit=20", 500),
            (listing, 500),
            ("GET /v1/agents/state", 500),
            ("GET /v1/calls/active-count", 500),
            ("GET /v1/calls?limit=50", 500),
            ("POST /v1/contacts/search", 500),
            ("POST /v1/compliance/check", 500),
        ]
        for row in rows:
            assert row["requests"] > 0, row
            assert row["errors"] == 0, row
            assert all(isinstance(row[k], int | float) for k in ("requests_per_second", "p50_ms", "p99_ms")), row
            assert (row["ratio_to_reference"] is None) == row["endpoint"].startswith("reference"), row
            assert (row["reference_requests_per_second"] is None) == row["endpoint"].startswith("reference"), row
            if row["ratio_to_reference"] is not None:
                # The printed pair is one of the rounds: the one whose ratio is the median.
                assert len(row["ratios_per_round"]) == 2, row
                assert row["ratio_to_reference"] == max(row["ratios_per_round"]), row
        assert "ratio" in result.stderr  # the table, for people

    async def test_bench_switch_runs_the_client_against_a_simulator_process(self, cli_env: dict[str, str]) -> None:
        result = await run_engage(
            "bench", "switch", "--seconds", "1", "--concurrency", "20", env=cli_env, limit_seconds=120
        )

        assert result.returncode == 0, result.stderr
        figures = result.json()
        assert figures["benchmark"] == "switch"
        assert figures["originates"] > 0
        assert figures["originate_failures"] == 0
        assert figures["legs_with_events_out_of_order"] == 0
        assert set(figures["event_lag_ms"]) == {"events", "p50", "p99"}
        assert set(figures["cpu_seconds"]) == {"client", "simulator"}

    async def test_bench_events_delivers_every_event_to_every_stream_once(self, cli_env: dict[str, str]) -> None:
        result = await run_engage(
            "bench", "events", "--seconds", "1", "--concurrency", "3", env=cli_env, limit_seconds=120
        )

        assert result.returncode == 0, result.stderr
        figures = result.json()
        assert figures["benchmark"] == "events"
        assert figures["events"] == 50
        assert figures["deliveries_expected"] == 3 * 50
        assert (figures["deliveries_received"], figures["lost"], figures["duplicated"]) == (150, 0, 0)
        assert set(figures) >= {"latency_ms_p50", "latency_ms_p99", "latency_ms_max"}

    async def test_bench_reports_exports_a_large_csv_and_pdf_and_prints_their_figures(
        self, cli_env: dict[str, str]
    ) -> None:
        result = await run_engage(
            "bench", "reports", "--count", "10001", "--pdf-rows", "10001", env=cli_env, limit_seconds=240
        )

        assert result.returncode == 0, result.stderr
        figures = result.json()
        assert figures["benchmark"] == "reports"
        assert [(e["format"], e["rows"]) for e in figures["exports"]] == [("csv", 10001), ("pdf", 10001)]
        for export in figures["exports"]:
            assert export["rows_per_second"] > 0
            assert export["file_mb"] > 0
            assert export["peak_rss_mib"] >= figures["rss_before_mib"]


class TestEmbeddedDefault:
    async def test_a_one_shot_command_without_a_database_url_uses_the_embedded_server_and_stops_it_after(
        self, embedded_env: dict[str, str], data_dir: Path
    ) -> None:
        result = await run_engage("tenant", "create", "--name", "Solo", env=embedded_env)

        assert result.returncode == 0, result.stderr
        assert result.json()["name"] == "Solo"
        assert (data_dir / "pg" / "PG_VERSION").exists()
        assert postmasters(data_dir) == []


class TestPublicUrl:
    """Signed links (recordings, report downloads) point at ENGAGE_PUBLIC_URL; unset, at where Engage listens."""

    def parse(self, *argv: str) -> argparse.Namespace:
        return build_parser().parse_args(["serve", *argv])

    def test_unset_it_follows_the_port_and_host_served(self) -> None:
        settings = Settings()

        assert _override_api(settings, self.parse("--port", "8765")).public_url == "http://127.0.0.1:8765"
        assert _override_api(settings, self.parse("--host", "10.0.0.5")).public_url == "http://10.0.0.5:8000"
        assert _override_api(settings, self.parse("--host", "::1", "--port", "9")).public_url == "http://[::1]:9"

    def test_a_wildcard_address_is_reached_at_loopback(self) -> None:
        wildcard = self.parse("--host", "0.0.0.0")  # noqa: S104 - parsed, not bound
        assert _override_api(Settings(), wildcard).public_url == "http://127.0.0.1:8000"

    def test_a_configured_public_url_is_kept(self) -> None:
        settings = Settings(public_url="https://engage.example.com")

        assert _override_api(settings, self.parse("--port", "8765")).public_url == "https://engage.example.com"
