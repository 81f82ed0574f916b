"""Domain errors and their one rendering: RFC 7807 problem details.

Services raise `ProblemError` subclasses (never `HTTPException`); `install_problem_handlers` turns
them, request-validation failures, Starlette's 404/405 and any unexpected exception into
`application/problem+json` with `type`, `title`, `status`, `detail` and `instance` (the request id,
which is also in the logs and the `X-Request-ID` header).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match

PROBLEM_BASE = "https://engage.broadnet.me/errors/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug


class ProblemError(Exception):
    """A failure the client can act on. Subclasses fix `status`, `slug` and `title`."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


class BadRequest(ProblemError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class ValidationFailed(ProblemError):
    status = 400
    slug = "validation-error"
    title = "Request validation failed"


class Unauthorized(ProblemError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"


class Forbidden(ProblemError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(ProblemError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ProblemError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class TenantInBody(ProblemError):
    status = 422
    slug = "tenant-id-not-allowed"
    title = "tenant_id is not accepted in the body"


class TooManyRequests(ProblemError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    extra: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request_id_of(request),
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {}))


def request_id_of(request: Request) -> str:
    value = getattr(request.state, "request_id", None)
    return str(value) if value is not None else ""


# C0 controls, DEL and unpaired surrogates: what a field path or message must not carry raw.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with control characters and unpaired surrogates written as `\\uXXXX`: a dict key sent with a NUL
    names its field in a problem (and in the logs) without carrying the NUL along."""
    return _UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _field_path(loc: Sequence[int | str]) -> str:
    parts = [printable(str(p)) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def _is_tenant_in_body(error: Mapping[str, Any]) -> bool:
    loc = tuple(error.get("loc", ()))
    return error.get("type") == "extra_forbidden" and len(loc) == 2 and loc == ("body", "tenant_id")


def _status_slug(status: int) -> tuple[str, str]:
    return {
        400: ("bad-request", "Bad request"),
        401: ("unauthorized", "Unauthorized"),
        403: ("forbidden", "Forbidden"),
        404: ("not-found", "Not found"),
        405: ("method-not-allowed", "Method not allowed"),
        413: ("payload-too-large", "Payload too large"),
        415: ("unsupported-media-type", "Unsupported media type"),
    }.get(status, ("http-error", "HTTP error"))


# The methods a 405's `Allow` header may name.
_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts on this path. Starlette's 405 names only the methods of the first route
    whose path matches, but GET and POST on one path are two routes here; RFC 9110 §10.2.1 wants them all.
    Each method is tried against the whole routing table, included routers too, as the router would."""
    allowed: list[str] = []
    for method in _HTTP_METHODS:
        probe = {**request.scope, "method": method}
        # FastAPI keeps routing bookkeeping in a nested dict; the probe gets its own copy.
        if isinstance(probe.get("fastapi"), dict):
            probe["fastapi"] = dict(probe["fastapi"])
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def internal_error_body(request_id: str) -> dict[str, object]:
    """The 500 body: no exception text, no stack trace; the request id ties it to the logs."""
    return {
        "type": problem_type("internal-error"),
        "title": "Internal server error",
        "status": 500,
        "detail": "An unexpected error occurred. Contact support with the instance id.",
        "instance": request_id,
    }


def database_unavailable_body(request_id: str) -> dict[str, object]:
    """The 503 body when the database is out of reach (stopped, restarting): the client may retry the request."""
    return {
        "type": problem_type("database-unavailable"),
        "title": "Service unavailable",
        "status": 503,
        "detail": "The database cannot be reached right now. Retry the request shortly.",
        "instance": request_id,
    }


def install_problem_handlers(app: FastAPI) -> None:
    # Starlette types every handler as taking `Exception` and calls each only with the class it was registered
    # for; the isinstance checks narrow the type, and anything else gets the generic 500, not a guess at its fields.
    def unexpected(request: Request) -> JSONResponse:
        body = internal_error_body(request_id_of(request))
        return JSONResponse(body, status_code=500, media_type=PROBLEM_MEDIA_TYPE)

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ProblemError):
            return unexpected(request)
        headers = dict(exc.headers)
        if exc.status == 401:
            # RFC 9110 §11.6.1: every 401 names the scheme that would be accepted.
            headers.setdefault("WWW-Authenticate", "Bearer")
        return problem_response(
            request,
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            extra=exc.extra,
            headers=headers,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):
            return unexpected(request)
        errors = list(exc.errors())
        # The tenant always comes from the token; a body naming one is a semantic error (seed: 422).
        if any(_is_tenant_in_body(e) for e in errors):
            return problem_response(
                request,
                status=TenantInBody.status,
                slug=TenantInBody.slug,
                title=TenantInBody.title,
                detail="The tenant is never taken from the request body; remove tenant_id.",
            )
        if any(e.get("type") == "json_invalid" for e in errors) or any(
            tuple(e.get("loc", ())) == ("body",) and e.get("type") in ("model_attributes_type", "dict_type")
            for e in errors
        ):
            return problem_response(
                request,
                status=400,
                slug="malformed-json",
                title="Malformed JSON",
                detail="The request body must be a JSON object sent with Content-Type: application/json.",
            )
        fields = [{"field": _field_path(e.get("loc", ())), "message": printable(str(e.get("msg", "")))} for e in errors]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return problem_response(
            request,
            status=ValidationFailed.status,
            slug=ValidationFailed.slug,
            title=ValidationFailed.title,
            detail=summary or "The request is not valid.",
            extra={"errors": fields},
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):
            return unexpected(request)
        slug, title = _status_slug(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route matches {request.method} {request.url.path}."
        elif exc.status_code == 405:
            if detail == "Method Not Allowed":
                detail = f"{request.method} is not allowed on {request.url.path}."
            headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        return problem_response(
            request,
            status=exc.status_code,
            slug=slug,
            title=title,
            detail=detail,
            headers=headers,
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
