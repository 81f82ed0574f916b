"""One webhook attempt: a signed POST to a checked address, with the seed's 10-second budget.

Invariants:
- Nothing is sent to an address `targets` refuses. The URL is checked before the attempt (a refusal costs no
  request), and again when a connection is opened: `webhook_client()`'s transport resolves the host itself,
  checks every address and connects to the checked one, so DNS rebinding between check and connect has no
  window. The URL keeps its hostname, so TLS SNI and certificate verification are for the hostname, and
  the connection pool is keyed by hostname (a connection verified for one name is never reused for another
  name that happens to share its address). Environment proxies are ignored (`trust_env=False`): a proxy
  would resolve the name itself, out of our sight.
- Redirects are not followed (a 3xx is a failure); at most `MAX_RESPONSE_BYTES` of a response are read.
- The whole attempt (DNS, connect, TLS, request, response) ends within `timeout_seconds`.
- An error is reported as short text that never carries a secret or the URL's query string.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from engage.core.clock import Clock

from .signing import signature_headers
from .targets import Target, UnsafeTarget, parse_target, resolve

USER_AGENT = "BroadNet-Engage-Webhooks/1"
# The seed: "Your endpoint must return a 2xx status within 10 seconds."
TIMEOUT_SECONDS = 10.0
# A receiver's answer is only its status; the cap stops a hostile one from streaming gigabytes at us.
MAX_RESPONSE_BYTES = 64 * 1024
_MAX_ERROR_CHARS = 200


class _RedactedRequestLog(logging.Filter):
    """httpx logs every request's full URL at INFO ("HTTP Request: POST <url> ..."); a webhook URL's query string
    may carry the receiver's token, so the logged URL loses it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 2:
            record.args = (record.args[0], redact_url(str(record.args[1])), *record.args[2:])
        return True


@dataclass(frozen=True, slots=True)
class AttemptResult:
    succeeded: bool
    status_code: int | None
    error: str | None
    latency_ms: int


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses `targets.resolve` admits, resolving the name itself."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # The scheme is irrelevant here: parse_target already refused the URL's if it had to.
        target = Target(url="", scheme="https", host=host.strip("[]"), port=port)
        try:
            addresses = await resolve(target, allow_private=self._allow_private, timeout_seconds=timeout or 5.0)
        except UnsafeTarget as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"no address to connect to for {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never sent over a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its pool without a way to pass a network backend; this is the same pool, with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedBackend(allow_private=allow_private),
        )


def webhook_client(*, allow_private: bool, max_connections: int = 200) -> httpx.AsyncClient:
    """The client every webhook goes through: connect-time address checks, no redirects, no env proxies."""
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactedRequestLog) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactedRequestLog())
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(
        transport=_CheckedTransport(allow_private=allow_private, limits=limits),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


def redact_url(url: str) -> str:
    """The URL without its query string, fragment or credentials: what logs may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _short(text: str, url: str) -> str:
    # An exception's text may quote the URL; its query string could carry a receiver's token.
    return text.replace(url, redact_url(url))[:_MAX_ERROR_CHARS]


async def send_once(
    url: str,
    body: bytes,
    secrets: Sequence[str],
    *,
    event_id: str,
    allow_private: bool,
    clock: Clock,
    timeout_seconds: float = TIMEOUT_SECONDS,
    client: httpx.AsyncClient | None = None,
) -> AttemptResult:
    """POST `body` (exact bytes, signed with every secret in `secrets`, current first) to `url`, once.

    `client`, when given, must come from `webhook_client()` (the dispatcher shares one); without it a client is
    made for this attempt. Never raises for anything the receiver or the network does.
    """
    started = time.perf_counter()

    def result(succeeded: bool, status_code: int | None, error: str | None) -> AttemptResult:
        return AttemptResult(succeeded, status_code, error, int((time.perf_counter() - started) * 1000))

    try:
        # Checked here first so that a refused URL costs no connection at all (and says why).
        target = parse_target(url, allow_private=allow_private)
        await resolve(target, allow_private=allow_private, timeout_seconds=timeout_seconds)
    except UnsafeTarget as exc:
        return result(False, None, f"refused: {exc}"[:_MAX_ERROR_CHARS])

    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-BroadNet-Event-Id": event_id,
        **signature_headers(body, int(clock.now().timestamp()), secrets),
    }
    own_client = client is None
    http = client if client is not None else webhook_client(allow_private=allow_private, max_connections=1)
    try:
        async with asyncio.timeout(timeout_seconds):
            request = http.build_request(
                "POST", url, content=body, headers=headers, timeout=httpx.Timeout(timeout_seconds)
            )
            response = await http.send(request, stream=True, follow_redirects=False)
            try:
                received = 0
                async for chunk in response.aiter_raw():
                    received += len(chunk)
                    if received >= MAX_RESPONSE_BYTES:
                        break
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return result(False, None, f"timed out after {timeout_seconds:g} s")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
        return result(False, None, _short(f"{type(exc).__name__}: {exc}", url))
    finally:
        if own_client:
            await http.aclose()
    status = response.status_code
    if 200 <= status < 300:
        return result(True, status, None)
    if 300 <= status < 400:
        return result(False, status, f"HTTP {status}: redirects are not followed")
    return result(False, status, f"HTTP {status}")
