"""Per-tenant rate limits (issue 2, point 11): the allowance, the 429 problem and its headers, and both
counters — in process, and in the real Redis shared by several API processes."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from engage.config import Settings
from engage.core.db import tenant_transaction
from engage.core.ratelimit import (
    Counter,
    InMemoryCounter,
    RateDecision,
    RedisCounter,
    WindowCount,
    check_rate,
)
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.tenancy.service import RateLimitCache
from engage.users.models import User

from ..conftest import REDIS_URL, ClientFor
from ..factories import Factory
from ..problems import assert_problem

WINDOW = 60


class FakeMonotonic:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _rate_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")}


async def _get_users(client: httpx.AsyncClient, factory: Factory, user: User, times: int) -> list[httpx.Response]:
    return [await client.get("/v1/users", headers=factory.headers(user)) for _ in range(times)]


@pytest.fixture
async def redis_counters(redis_prefix: str) -> AsyncIterator[list[RedisCounter]]:
    """Redis counters on this test's own key prefix; append more to share it, all closed afterwards."""
    counters = [RedisCounter(REDIS_URL, prefix=redis_prefix)]
    yield counters
    for counter in counters:
        await counter.close()


class TestTenantRateLimitOverHttp:
    async def test_tenant_override_admits_that_many_requests_then_a_429_problem_with_retry_after(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        admin = await factory.user(await factory.tenant(rate_limit_per_minute=3))

        responses = await _get_users(client, factory, admin, 4)

        assert [r.status_code for r in responses[:3]] == [200, 200, 200]
        refused = responses[3]
        body = assert_problem(refused, 429, "rate-limited")
        assert "3 requests per minute" in body["detail"]
        assert refused.headers["retry-after"] == "60"
        assert _rate_headers(refused) == {"ratelimit-limit": "3", "ratelimit-remaining": "0", "ratelimit-reset": "60"}

    async def test_successful_responses_carry_ratelimit_headers_counting_down(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        admin = await factory.user(await factory.tenant(rate_limit_per_minute=5))

        responses = await _get_users(client, factory, admin, 3)

        assert [r.status_code for r in responses] == [200, 200, 200]
        assert [r.headers["ratelimit-remaining"] for r in responses] == ["4", "3", "2"]
        assert {r.headers["ratelimit-limit"] for r in responses} == {"5"}
        assert all(1 <= int(r.headers["ratelimit-reset"]) <= WINDOW for r in responses)
        assert all("retry-after" not in r.headers for r in responses)

    async def test_two_tenants_do_not_share_a_budget(self, client: httpx.AsyncClient, factory: Factory) -> None:
        busy = await factory.user(await factory.tenant(name="Busy", rate_limit_per_minute=2))
        quiet = await factory.user(await factory.tenant(name="Quiet", rate_limit_per_minute=2))
        await _get_users(client, factory, busy, 3)

        response = await client.get("/v1/users", headers=factory.headers(quiet))

        assert response.status_code == 200
        assert response.headers["ratelimit-remaining"] == "1"

    async def test_users_of_one_tenant_share_its_budget(self, client: httpx.AsyncClient, factory: Factory) -> None:
        tenant = await factory.tenant(rate_limit_per_minute=2)
        first, second = await factory.user(tenant), await factory.user(tenant)
        await _get_users(client, factory, first, 2)

        response = await client.get("/v1/users", headers=factory.headers(second))

        assert_problem(response, 429, "rate-limited")

    async def test_budget_refills_when_the_window_ends(
        self, settings: Settings, runtime: Runtime, client_for: ClientFor, factory: Factory
    ) -> None:
        monotonic = FakeMonotonic()
        app = create_app(settings, runtime=dataclasses.replace(runtime, counter=InMemoryCounter(monotonic)))
        admin = await factory.user(await factory.tenant(rate_limit_per_minute=1))

        async with client_for(app) as client:
            await client.get("/v1/users", headers=factory.headers(admin))
            monotonic.advance(WINDOW - 1)
            still_refused = await client.get("/v1/users", headers=factory.headers(admin))
            monotonic.advance(1)
            admitted = await client.get("/v1/users", headers=factory.headers(admin))

        assert_problem(still_refused, 429, "rate-limited")
        assert still_refused.headers["retry-after"] == "1"
        assert admitted.status_code == 200

    async def test_unauthenticated_requests_do_not_spend_a_tenant_budget(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        admin = await factory.user(await factory.tenant(rate_limit_per_minute=1))
        for _ in range(3):
            await client.get("/v1/users", headers={"Authorization": "Bearer not-a-token"})

        response = await client.get("/v1/users", headers=factory.headers(admin))

        assert response.status_code == 200


class TestTenantAllowance:
    async def test_allowance_is_the_tenants_own_override(self, runtime: Runtime, factory: Factory) -> None:
        tenant = await factory.tenant(rate_limit_per_minute=7)
        allowance = RateLimitCache(runtime.sessions, default_per_minute=2000)

        assert await allowance(tenant.id) == 7

    async def test_tenant_without_a_row_gets_the_default_from_settings(
        self, runtime: Runtime, settings: Settings
    ) -> None:
        allowance = RateLimitCache(runtime.sessions, default_per_minute=settings.rate.default_per_minute)

        assert await allowance(uuid.uuid4()) == settings.rate.default_per_minute == 2000

    async def test_changed_override_applies_once_the_cache_ttl_has_passed(
        self, runtime: Runtime, factory: Factory
    ) -> None:
        tenant = await factory.tenant(rate_limit_per_minute=7)
        monotonic = FakeMonotonic()
        allowance = RateLimitCache(runtime.sessions, default_per_minute=2000, ttl_seconds=30, monotonic=monotonic)
        await allowance(tenant.id)
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await session.execute(
                text("UPDATE tenants SET rate_limit_per_minute = 9 WHERE id = :id"), {"id": tenant.id}
            )

        monotonic.advance(29)
        cached = await allowance(tenant.id)
        monotonic.advance(1)
        refreshed = await allowance(tenant.id)

        assert (cached, refreshed) == (7, 9)


class TestCheckRate:
    async def test_allows_up_to_the_limit_then_refuses_with_nothing_remaining(self) -> None:
        counter = InMemoryCounter(FakeMonotonic())

        decisions = [await check_rate(counter, "tenant:a", limit=2) for _ in range(3)]

        assert [(d.allowed, d.remaining) for d in decisions] == [(True, 1), (True, 0), (False, 0)]

    def test_refusal_headers_add_retry_after_to_the_ratelimit_fields(self) -> None:
        allowed = RateDecision(allowed=True, limit=10, remaining=4, reset_seconds=12)
        refused = RateDecision(allowed=False, limit=10, remaining=0, reset_seconds=12)

        assert allowed.headers() == {"RateLimit-Limit": "10", "RateLimit-Remaining": "4", "RateLimit-Reset": "12"}
        assert refused.headers() == {
            "RateLimit-Limit": "10",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": "12",
            "Retry-After": "12",
        }


class TestInMemoryCounter:
    async def test_counts_each_hit_and_reports_the_whole_seconds_left_in_the_window(self) -> None:
        monotonic = FakeMonotonic()
        counter = InMemoryCounter(monotonic)

        first = await counter.increment("k", WINDOW)
        monotonic.advance(10.5)
        second = await counter.increment("k", WINDOW)

        assert first == WindowCount(1, 60)
        assert second == WindowCount(2, 50)

    async def test_count_restarts_at_one_when_the_window_has_passed(self) -> None:
        monotonic = FakeMonotonic()
        counter = InMemoryCounter(monotonic)
        for _ in range(5):
            await counter.increment("k", WINDOW)

        monotonic.advance(WINDOW)
        after = await counter.increment("k", WINDOW)

        assert after == WindowCount(1, 60)

    async def test_keys_count_separately(self) -> None:
        counter = InMemoryCounter(FakeMonotonic())
        await counter.increment("a", WINDOW)
        await counter.increment("a", WINDOW)

        assert await counter.increment("b", WINDOW) == WindowCount(1, 60)

    async def test_current_reads_the_window_without_counting_and_is_empty_once_it_expired(self) -> None:
        monotonic = FakeMonotonic()
        counter = InMemoryCounter(monotonic)
        await counter.increment("k", WINDOW)

        during = [await counter.current("k"), await counter.current("k")]
        monotonic.advance(WINDOW)
        after = await counter.current("k")

        assert during == [WindowCount(1, 60), WindowCount(1, 60)]
        assert after == WindowCount(0, 0)

    async def test_concurrent_increments_get_each_count_exactly_once(self) -> None:
        counter = InMemoryCounter(FakeMonotonic())

        windows = await asyncio.gather(*(counter.increment("k", WINDOW) for _ in range(200)))

        assert sorted(w.count for w in windows) == list(range(1, 201))


class TestRedisCounter:
    async def test_concurrent_increments_get_each_count_exactly_once(self, redis_counters: list[RedisCounter]) -> None:
        counter = redis_counters[0]

        windows = await asyncio.gather(*(counter.increment("tenant:x", WINDOW) for _ in range(200)))

        assert sorted(w.count for w in windows) == list(range(1, 201))

    async def test_two_counters_like_two_api_processes_share_one_budget(
        self, redis_counters: list[RedisCounter], redis_prefix: str
    ) -> None:
        one = redis_counters[0]
        other = RedisCounter(REDIS_URL, prefix=redis_prefix)
        redis_counters.append(other)

        alternating = [(await counter.increment("tenant:x", WINDOW)).count for counter in (one, other) * 3]
        concurrent = await asyncio.gather(*(counter.increment("tenant:x", WINDOW) for counter in (one, other) * 5))

        assert alternating == [1, 2, 3, 4, 5, 6]
        assert sorted(w.count for w in concurrent) == list(range(7, 17))
        assert (await one.current("tenant:x")).count == (await other.current("tenant:x")).count == 16

    async def test_window_key_expires_after_the_window(
        self, redis_counters: list[RedisCounter], redis: Redis, redis_prefix: str
    ) -> None:
        window = await redis_counters[0].increment("tenant:x", WINDOW)

        ttl_ms = await redis.pttl(redis_prefix + "tenant:x")

        assert WINDOW * 1000 - 5_000 < ttl_ms <= WINDOW * 1000
        assert window == WindowCount(1, 60)

    async def test_later_hits_do_not_push_the_expiry_back(
        self, redis_counters: list[RedisCounter], redis: Redis, redis_prefix: str
    ) -> None:
        counter = redis_counters[0]
        await counter.increment("tenant:x", WINDOW)
        # As if 30 s of the window had passed.
        await redis.pexpire(redis_prefix + "tenant:x", 30_000)

        window = await counter.increment("tenant:x", WINDOW)

        assert window == WindowCount(2, 30)
        assert await redis.pttl(redis_prefix + "tenant:x") <= 30_000

    async def test_count_restarts_at_one_once_redis_expired_the_window(
        self, redis_counters: list[RedisCounter], redis: Redis, redis_prefix: str
    ) -> None:
        counter = redis_counters[0]
        for _ in range(3):
            await counter.increment("tenant:x", WINDOW)
        await redis.pexpire(redis_prefix + "tenant:x", 1)
        for _ in range(50):
            if not await redis.exists(redis_prefix + "tenant:x"):
                break
            await asyncio.sleep(0.01)

        assert await counter.increment("tenant:x", WINDOW) == WindowCount(1, 60)

    async def test_key_found_without_an_expiry_is_given_one(
        self, redis_counters: list[RedisCounter], redis: Redis, redis_prefix: str
    ) -> None:
        await redis.set(redis_prefix + "tenant:x", 5)

        window = await redis_counters[0].increment("tenant:x", WINDOW)

        assert window.count == 6
        assert 0 < await redis.pttl(redis_prefix + "tenant:x") <= WINDOW * 1000

    async def test_current_reads_the_shared_count_without_counting(self, redis_counters: list[RedisCounter]) -> None:
        counter = redis_counters[0]
        await counter.increment("tenant:x", WINDOW)
        await counter.increment("tenant:x", WINDOW)

        reads = [await counter.current("tenant:x"), await counter.current("tenant:x")]

        assert [r.count for r in reads] == [2, 2]
        assert await counter.current("tenant:unknown") == WindowCount(0, 0)

    async def test_unreachable_redis_falls_back_to_local_counting_that_still_refuses(self, closed_port: int) -> None:
        counter = RedisCounter(f"redis://127.0.0.1:{closed_port}/15", monotonic=FakeMonotonic())
        try:
            decisions = [await check_rate(counter, "tenant:x", limit=2) for _ in range(3)]
            current = await counter.current("tenant:x")
        finally:
            await counter.close()

        assert [d.allowed for d in decisions] == [True, True, False]
        assert current.count == 3

    async def test_after_a_failure_redis_is_not_retried_until_the_retry_interval_has_passed(self) -> None:
        # A "Redis" that accepts and hangs up at once; each connection attempt is counted.
        attempts = 0

        async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal attempts
            attempts += 1
            writer.close()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        monotonic = FakeMonotonic()
        counter = RedisCounter(f"redis://127.0.0.1:{port}/15", retry_seconds=5, monotonic=monotonic)
        try:
            await counter.increment("tenant:x", WINDOW)
            after_failure = attempts
            await counter.increment("tenant:x", WINDOW)
            await counter.current("tenant:x")
            during_pause = attempts
            monotonic.advance(5)
            third = await counter.increment("tenant:x", WINDOW)
            after_pause = attempts
        finally:
            await counter.close()
            server.close()
            await server.wait_closed()

        assert after_failure >= 1
        assert during_pause == after_failure
        assert after_pause > during_pause
        assert third.count == 3


class TestRedisBackedApp:
    @staticmethod
    def _app_with(settings: Settings, runtime: Runtime, counter: Counter) -> httpx.AsyncClient:
        app = create_app(settings, runtime=dataclasses.replace(runtime, counter=counter))
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://engage.test"
        )

    async def test_redis_backed_app_answers_429_after_the_tenants_limit(
        self, settings: Settings, runtime: Runtime, factory: Factory, redis_counters: list[RedisCounter]
    ) -> None:
        admin = await factory.user(await factory.tenant(rate_limit_per_minute=3))

        async with self._app_with(settings, runtime, redis_counters[0]) as client:
            responses = await _get_users(client, factory, admin, 4)

        assert [r.status_code for r in responses[:3]] == [200, 200, 200]
        assert_problem(responses[3], 429, "rate-limited")
        assert responses[3].headers["retry-after"] == responses[3].headers["ratelimit-reset"]

    async def test_two_api_processes_on_one_redis_share_the_tenants_budget(
        self,
        settings: Settings,
        runtime: Runtime,
        factory: Factory,
        redis_counters: list[RedisCounter],
        redis_prefix: str,
    ) -> None:
        second_counter = RedisCounter(REDIS_URL, prefix=redis_prefix)
        redis_counters.append(second_counter)
        admin = await factory.user(await factory.tenant(rate_limit_per_minute=4))

        async with (
            self._app_with(settings, runtime, redis_counters[0]) as one,
            self._app_with(settings, runtime, second_counter) as other,
        ):
            statuses = [
                (await api.get("/v1/users", headers=factory.headers(admin))).status_code
                for api in (one, other, one, other, one, other)
            ]

        assert statuses == [200, 200, 200, 200, 429, 429]

    async def test_app_with_unreachable_redis_still_limits_each_tenant(
        self, settings: Settings, runtime: Runtime, factory: Factory, closed_port: int
    ) -> None:
        counter = RedisCounter(f"redis://127.0.0.1:{closed_port}/15")
        admin = await factory.user(await factory.tenant(rate_limit_per_minute=2))
        try:
            async with self._app_with(settings, runtime, counter) as client:
                responses = await _get_users(client, factory, admin, 3)
        finally:
            await counter.close()

        assert [r.status_code for r in responses] == [200, 200, 429]


class TestWindowArithmetic:
    async def test_a_fresh_window_never_reports_more_seconds_than_its_length(self) -> None:
        # (now + 60) - now is 60.000000000007 for some float `now`; the header must still say 60.
        monotonic = FakeMonotonic()
        monotonic.now = 988.7522448126778
        assert (monotonic.now + WINDOW) - monotonic.now > WINDOW
        counter = InMemoryCounter(monotonic)

        window = await counter.increment("k", WINDOW)

        assert window.reset_seconds == WINDOW
