"""Failed logins per email: after `settings.login.max_failures` within the window, every attempt for that
email is refused with a 429 until the window ends, whether or not the email belongs to anyone."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from engage.config import LoginSettings, Settings
from engage.core.clock import ManualClock
from engage.core.ratelimit import RedisCounter
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.users.models import User

from ..conftest import REDIS_URL
from ..problems import assert_problem, without_instance
from .conftest import Db, login

WRONG = "not the password"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A lower limit than the default 5 keeps these tests quick: every failure costs a real argon2 check."""
    return settings.model_copy(update={"login": LoginSettings(max_failures=3, window_seconds=600)})


@pytest.fixture
async def two_processes(settings: Settings, runtime: Runtime) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two API processes, as in production with ENGAGE_REDIS_URL set: each has its own app and Redis counter,
    sharing only Redis (under a prefix of this test's own)."""
    prefix = f"engage-test-{secrets.token_hex(4)}:"
    counters = [RedisCounter(REDIS_URL, prefix=prefix) for _ in range(2)]
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, runtime=dataclasses.replace(runtime, counter=c))),
            base_url="http://engage.test",
        )
        for c in counters
    ]
    yield clients
    for client, counter in zip(clients, counters, strict=True):
        await client.aclose()
        await counter.close()


async def fail_logins(client: httpx.AsyncClient, email: str, times: int) -> None:
    for _ in range(times):
        response = await login(client, email, WRONG)
        assert_problem(response, 401, "invalid-credentials")


class TestLoginThrottling:
    async def test_after_max_failures_even_the_right_password_gets_a_429_with_retry_after(
        self, client: httpx.AsyncClient, runtime: Runtime, db: Db, agent: User
    ) -> None:
        limits = runtime.settings.login
        await fail_logins(client, agent.email, limits.max_failures)

        response = await login(client, agent.email)

        body = assert_problem(response, 429, "login-throttled")
        assert response.headers["retry-after"] == str(limits.window_seconds)
        assert body["detail"] == f"Too many failed logins for this email; try again in {limits.window_seconds} s."
        assert await db.refresh_tokens(agent.tenant_id) == []
        assert (await db.user(agent)).last_login_at is None

    async def test_one_failure_short_of_the_limit_the_right_password_still_works(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User
    ) -> None:
        await fail_logins(client, agent.email, runtime.settings.login.max_failures - 1)

        response = await login(client, agent.email)

        assert response.status_code == 200

    async def test_retry_after_counts_down_from_the_first_failure(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User, clock: ManualClock
    ) -> None:
        limits = runtime.settings.login
        await fail_logins(client, agent.email, limits.max_failures)
        clock.advance(100)

        response = await login(client, agent.email)

        assert_problem(response, 429, "login-throttled")
        assert response.headers["retry-after"] == str(limits.window_seconds - 100)

    async def test_unknown_email_is_throttled_exactly_like_a_known_one(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User
    ) -> None:
        unknown = f"nobody-{uuid.uuid4().hex}@acme.test"
        attempts = runtime.settings.login.max_failures + 1

        known_replies = [await login(client, agent.email, WRONG) for _ in range(attempts)]
        unknown_replies = [await login(client, unknown, WRONG) for _ in range(attempts)]

        assert [r.status_code for r in known_replies] == [r.status_code for r in unknown_replies]
        assert [without_instance(r.json()) for r in known_replies] == [
            without_instance(r.json()) for r in unknown_replies
        ]
        assert unknown_replies[-1].headers["retry-after"] == known_replies[-1].headers["retry-after"]
        assert_problem(unknown_replies[-1], 429, "login-throttled")

    async def test_failures_count_for_an_email_whatever_its_case(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User
    ) -> None:
        await fail_logins(client, agent.email.upper(), runtime.settings.login.max_failures)

        response = await login(client, agent.email)

        assert_problem(response, 429, "login-throttled")

    async def test_throttle_lifts_once_the_window_has_passed(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User, clock: ManualClock
    ) -> None:
        limits = runtime.settings.login
        await fail_logins(client, agent.email, limits.max_failures)
        clock.advance(limits.window_seconds - 1)
        assert (await login(client, agent.email)).status_code == 429

        clock.advance(1)
        response = await login(client, agent.email)

        assert response.status_code == 200

    async def test_a_new_window_allows_max_failures_again(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User, clock: ManualClock
    ) -> None:
        limits = runtime.settings.login
        await fail_logins(client, agent.email, limits.max_failures)
        clock.advance(limits.window_seconds)

        await fail_logins(client, agent.email, limits.max_failures)

        assert_problem(await login(client, agent.email), 429, "login-throttled")

    async def test_throttling_one_email_leaves_other_emails_alone(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: User, agent: User
    ) -> None:
        await fail_logins(client, agent.email, runtime.settings.login.max_failures)

        response = await login(client, admin.email)

        assert response.status_code == 200

    async def test_concurrent_wrong_passwords_get_no_more_than_max_failures_password_checks(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User
    ) -> None:
        max_failures = runtime.settings.login.max_failures

        replies = await asyncio.gather(*(login(client, agent.email, WRONG) for _ in range(3 * max_failures)))

        statuses = sorted(r.status_code for r in replies)
        assert statuses == [401] * max_failures + [429] * (2 * max_failures)

    async def test_with_redis_failures_counted_by_one_process_throttle_the_email_in_another(
        self, two_processes: list[httpx.AsyncClient], runtime: Runtime, agent: User
    ) -> None:
        first, second = two_processes
        await fail_logins(first, agent.email, runtime.settings.login.max_failures)

        response = await login(second, agent.email)

        assert_problem(response, 429, "login-throttled")
        assert 0 < int(response.headers["retry-after"]) <= runtime.settings.login.window_seconds
