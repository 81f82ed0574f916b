"""`engage serve` as a real process over real HTTP (issue 2 points 2 and 8): it serves until SIGTERM and then
exits 0; with no database configured it runs the embedded PostgreSQL, stops it on the way out, and after a
SIGKILL of its process group (which the postmaster survives) a new `serve` re-attaches to that server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from .processes import Served, postmaster_pid, postmasters, run_engage, serving

DEMO_ROLES = ["admin", "agent", "agent", "supervisor"]
PASSWORD = "correct horse battery"


@asynccontextmanager
async def logged_in_as_demo_admin(served: Served) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """A client carrying the demo admin's bearer token (logged in with what `serve` printed), and that block."""
    demo = served.demo()
    admin = next(login for login in demo["logins"] if login["role"] == "admin")
    async with httpx.AsyncClient(base_url=served.base_url, timeout=10.0) as client:
        response = await client.post("/v1/auth/login", json={"email": admin["email"], "password": admin["password"]})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        yield client, demo


class TestServeWithADatabaseUrl:
    async def test_serve_answers_http_lets_a_demo_login_list_users_and_exits_0_on_sigterm(
        self, serve_env: dict[str, str], tmp_path: Path
    ) -> None:
        async with serving("--demo", env=serve_env, logs=tmp_path) as served:
            health = await served.wait_until_answering("/healthz")
            async with logged_in_as_demo_admin(served) as (client, demo):
                users = await client.get("/v1/users", params={"limit": 200})

            returncode = await served.terminate()

        assert health.json() == {"status": "ok"}
        assert sorted(login["role"] for login in demo["logins"]) == DEMO_ROLES
        assert demo["api"] == served.base_url
        assert users.status_code == 200, users.text
        listed = {user["email"] for user in users.json()["items"]}
        assert {login["email"] for login in demo["logins"]} <= listed
        assert {user["tenant_id"] for user in users.json()["items"]} == {demo["tenant_id"]}
        assert returncode == 0, served.output()


class TestServeEmbedded:
    async def test_without_a_database_url_serve_runs_the_embedded_postgres_and_stops_it_on_sigterm(
        self, embedded_env: dict[str, str], data_dir: Path, tmp_path: Path
    ) -> None:
        async with serving(env=embedded_env, logs=tmp_path) as served:
            ready = await served.wait_until_answering("/readyz")
            running = [p.pid for p in postmasters(data_dir)]
            async with logged_in_as_demo_admin(served) as (client, demo):
                me = await client.get("/v1/users", params={"limit": 1})

            returncode = await served.terminate()

        assert ready.json() == {"status": "ok", "database": "up"}
        assert len(running) == 1
        assert sorted(login["role"] for login in demo["logins"]) == DEMO_ROLES
        assert me.status_code == 200, me.text
        assert returncode == 0, served.output()
        assert postmasters(data_dir) == []
        assert not (data_dir / "pg" / "postmaster.pid").exists()

    async def test_after_a_sigkill_of_its_process_group_a_new_serve_reattaches_to_the_same_postmaster(
        self, embedded_env: dict[str, str], data_dir: Path, tmp_path: Path
    ) -> None:
        async with serving(env=embedded_env, logs=tmp_path) as first:
            await first.wait_until_answering("/readyz")
            pid_before = postmaster_pid(data_dir)
            await first.kill_group()
        survivors = [p.pid for p in postmasters(data_dir)]

        async with serving(env=embedded_env, logs=tmp_path) as second:
            ready = await second.wait_until_answering("/readyz")
            pid_after = postmaster_pid(data_dir)
            running = [p.pid for p in postmasters(data_dir)]
            async with logged_in_as_demo_admin(second) as (client, demo):
                users = await client.get("/v1/users", params={"limit": 10})
            returncode = await second.terminate()

        # The premise: the postmaster outlives the SIGKILL (it runs in a session of its own).
        assert survivors == [pid_before]
        assert ready.json() == {"status": "ok", "database": "up"}
        assert pid_after == pid_before
        assert running == [pid_before]
        assert users.status_code == 200, users.text
        assert demo["tenant_id"] in {user["tenant_id"] for user in users.json()["items"]}
        assert returncode == 0, second.output()
        assert postmasters(data_dir) == []

    async def test_a_command_run_while_serve_runs_uses_its_embedded_server_and_leaves_it_running(
        self, embedded_env: dict[str, str], data_dir: Path, tmp_path: Path
    ) -> None:
        email = "walk-in@acme.test"
        async with serving(env=embedded_env, logs=tmp_path) as served:
            await served.wait_until_answering("/readyz")
            pid = postmaster_pid(data_dir)
            tenant_id = served.demo()["tenant_id"]
            created = await run_engage(
                "user", "create", "--tenant", tenant_id, "--email", email, "--password", PASSWORD, "--role", "agent",
                env=embedded_env,
            )  # fmt: skip
            running_after = [p.pid for p in postmasters(data_dir)]
            async with httpx.AsyncClient(base_url=served.base_url, timeout=10.0) as client:
                ready = await client.get("/readyz")
                login = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
            returncode = await served.terminate()

        assert created.returncode == 0, created.stderr
        assert running_after == [pid]
        assert ready.status_code == 200
        assert login.status_code == 200, login.text
        assert login.json()["user"]["tenant_id"] == tenant_id
        assert returncode == 0, served.output()
