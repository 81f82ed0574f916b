"""The HTTP edge every request passes first: request id, body-size limit, last-resort 500s, access log, metrics.

Invariants: every response carries `X-Request-ID` (the `instance` of any problem body, and bound into every
log line written while serving it); a body over `max_body_bytes` is refused with 413 before the endpoint
runs; an unexpected exception becomes a 500 problem with no stack trace in the body, except that a database out
of reach is a 503 problem with `Retry-After` (the request can succeed unchanged once the server is back).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import MutableMapping
from typing import Any

import structlog
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import database_unavailable
from .errors import database_unavailable_body, internal_error_body, problem_type
from .ids import new_id
from .metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("engage.http")

# A caller may pass its own id (a load balancer's trace id); anything else is replaced.
# (`fullmatch`: with `match` and `$`, an id ending in a newline would pass and split the log line.)
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
# Seconds a client is asked to wait before retrying while the database is out of reach: about what a PostgreSQL
# restart or fail-over takes.
_DATABASE_RETRY_AFTER_SECONDS = 5
# Metric labels take the method only from this set: any token is a valid HTTP method, and a label value per
# invented method would grow the metrics without bound.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, so FastAPI's body
    parsing re-raises it (rather than turning it into a generic 400) and the problem handler renders 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body exceeds {limit} bytes.")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _CLIENT_REQUEST_ID.fullmatch(incoming) else str(new_id())
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                present = {bytes(k).lower() for k, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                decision = state.get("rate_limit")
                if decision is not None:
                    for name, value in decision.headers().items():
                        if name.lower().encode() not in present:
                            headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        try:
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                raise _BodyTooLarge(self.max_body_bytes)
            await self.app(scope, receive_wrapper, send_wrapper)
        except _BodyTooLarge:
            if not status_holder["started"]:
                await self._send_problem(send_wrapper, 413, self._too_large_body(request_id))
        except Exception as exc:
            if database_unavailable(exc):
                # Not a bug of ours and nothing a stack trace would explain: the server is stopped or restarting.
                log.warning(
                    "request.database_unavailable",
                    method=scope["method"],
                    path=scope["path"],
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )
                if not status_holder["started"]:
                    await self._send_problem(
                        send_wrapper,
                        503,
                        database_unavailable_body(request_id),
                        headers=[(b"retry-after", str(_DATABASE_RETRY_AFTER_SECONDS).encode())],
                    )
            else:
                log.error("request.failed", exc_info=exc, method=scope["method"], path=scope["path"])
                if not status_holder["started"]:
                    await self._send_problem(send_wrapper, 500, internal_error_body(request_id))
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            status = int(status_holder["status"])
            method = scope["method"] if scope["method"] in _KNOWN_METHODS else "other"
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            log.info(
                "request.completed",
                method=scope["method"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                tenant_id=state.get("tenant_id"),
            )
            structlog.contextvars.clear_contextvars()

    def _too_large_body(self, request_id: str) -> dict[str, object]:
        return {
            "type": problem_type("payload-too-large"),
            "title": "Payload too large",
            "status": 413,
            "detail": f"The request body exceeds {self.max_body_bytes} bytes.",
            "instance": request_id,
        }

    @staticmethod
    async def _send_problem(
        send: Send, status: int, body: dict[str, object], headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                    *(headers or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
