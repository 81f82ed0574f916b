"""Windowed counters for rate limits (per tenant) and login throttling (per email).

A counter window opens at a key's first hit and lasts `window_seconds`; the count and the time left
come back together from one atomic step. In process (`InMemoryCounter`) when `ENGAGE_REDIS_URL` is
unset; in Redis (`RedisCounter`, one Lua script, so several API processes share the count) when set.
If Redis fails, the Redis counter keeps limiting with a local counter instead of letting everything
through, logs the failure, and leaves Redis alone for `REDIS_RETRY_SECONDS` before trying it again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

log = structlog.get_logger("engage.ratelimit")


@dataclass(frozen=True, slots=True)
class WindowCount:
    count: int
    reset_seconds: int


class Counter(Protocol):
    async def increment(self, key: str, window_seconds: int) -> WindowCount: ...

    async def current(self, key: str) -> WindowCount: ...

    async def close(self) -> None: ...


def _seconds_left(ends_at: float, now: float) -> int:
    """Whole seconds until `ends_at`, at least 1. Rounded to the millisecond first: `(now + 60) - now` is
    60.000000000007 for some float `now`, which `ceil` would report as 61."""
    return max(1, math.ceil(round(ends_at - now, 3)))


class InMemoryCounter:
    # Expired windows are swept every this many increments, keeping memory bounded by live keys.
    _SWEEP_EVERY = 1024

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._windows: dict[str, tuple[int, float]] = {}
        self._since_sweep = 0

    async def increment(self, key: str, window_seconds: int) -> WindowCount:
        now = self._monotonic()
        self._sweep(now)
        count, ends_at = self._windows.get(key, (0, 0.0))
        if ends_at <= now:
            count, ends_at = 0, now + window_seconds
        count += 1
        self._windows[key] = (count, ends_at)
        return WindowCount(count, _seconds_left(ends_at, now))

    async def current(self, key: str) -> WindowCount:
        now = self._monotonic()
        count, ends_at = self._windows.get(key, (0, 0.0))
        if ends_at <= now:
            return WindowCount(0, 0)
        return WindowCount(count, _seconds_left(ends_at, now))

    async def close(self) -> None:
        self._windows.clear()

    def _sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < self._SWEEP_EVERY:
            return
        self._since_sweep = 0
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}


# INCR and PEXPIRE in one script: no window is ever left without an expiry, even if a client dies
# between the two commands.
_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


# Every Redis wait (connect, reply, a free pooled connection) is bounded by this: the limiter must never be
# what makes a request slow.
_REDIS_TIMEOUT_SECONDS = 1.0
_REDIS_CONNECTIONS = 64
# After a Redis failure the local counter serves alone for this long before Redis is tried again: a hung
# Redis would otherwise add the full socket timeout (1 s) to every request and log an error for each.
REDIS_RETRY_SECONDS = 5.0


class RedisCounter:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "engage:counter:",
        retry_seconds: float = REDIS_RETRY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # A blocking pool: redis-py's default pool refuses the 101st concurrent command ("Too many
        # connections"), which would send a burst of requests to the local fallback; this one makes them
        # wait their turn (a script runs in well under a millisecond) and fails only when Redis is stuck.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=_REDIS_CONNECTIONS,
            timeout=_REDIS_TIMEOUT_SECONDS,
            socket_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
        )
        self._redis: Redis = Redis.from_pool(pool)
        self._prefix = prefix
        self._script = self._redis.register_script(_INCREMENT)
        self._fallback = InMemoryCounter(monotonic)
        self._retry_seconds = retry_seconds
        self._monotonic = monotonic
        self._skip_redis_until = -math.inf

    async def increment(self, key: str, window_seconds: int) -> WindowCount:
        if self._monotonic() < self._skip_redis_until:
            return await self._fallback.increment(key, window_seconds)
        try:
            count, ttl_ms = await self._script(keys=[self._prefix + key], args=[window_seconds * 1000])
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            return await self._fallback.increment(key, window_seconds)
        return WindowCount(int(count), max(1, math.ceil(int(ttl_ms) / 1000)))

    async def current(self, key: str) -> WindowCount:
        if self._monotonic() < self._skip_redis_until:
            return await self._fallback.current(key)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(self._prefix + key)
                pipe.pttl(self._prefix + key)
                raw, ttl_ms = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            return await self._fallback.current(key)
        if raw is None or int(ttl_ms) <= 0:
            return WindowCount(0, 0)
        return WindowCount(int(raw), max(1, math.ceil(int(ttl_ms) / 1000)))

    async def close(self) -> None:
        await self._redis.aclose()

    def _redis_failed(self, exc: Exception) -> None:
        log.error("ratelimit.redis_failed", error=str(exc), retry_in_seconds=self._retry_seconds)
        self._skip_redis_until = self._monotonic() + self._retry_seconds


def create_counter(redis_url: str | None) -> Counter:
    return RedisCounter(redis_url) if redis_url else InMemoryCounter()


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """IETF draft-ietf-httpapi-ratelimit-headers fields, plus Retry-After on refusal."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


async def check_rate(counter: Counter, key: str, *, limit: int, window_seconds: int = 60) -> RateDecision:
    window = await counter.increment(key, window_seconds)
    return RateDecision(
        allowed=window.count <= limit,
        limit=limit,
        remaining=max(0, limit - window.count),
        reset_seconds=window.reset_seconds,
    )
