"""Schemathesis against the served API: every operation of GET /openapi.json, as each role, must answer without a
server error, with a status, media type and body the document declares, and must accept every request the document
calls valid (unless the refusal is one a schema cannot express, listed in `SEMANTIC_REFUSALS`). A stateful run
follows the document's links (create → read, update, act, delete).

The app runs in uvicorn on a loopback port, in a thread with its own event loop and its own runtime (the
lifespan's, on this run's database), as `engage api` serves it: the asyncpg pool lives in that loop. Tokens are
issued with the run's secret; the tenant's rate limit is lifted so that 429s do not drown the run.

`make check` runs a few examples per operation; `make fuzz` raises them (ENGAGE_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.config import DatabaseSettings, JwtSettings, Settings
from engage.core.clock import SystemClock
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.openapi import required_permissions
from engage.core.principal import ROLE_PERMISSIONS, Permission, Role
from engage.core.security import TokenCodec
from engage.main import create_app
from engage.tenancy import service as tenancy
from engage.users import service as users
from engage.users.schemas import UserCreate

pytestmark = pytest.mark.fuzz

# Examples per operation and role: a bounded run in `make check`; `make fuzz` sets more.
MAX_EXAMPLES = int(os.environ.get("ENGAGE_FUZZ_EXAMPLES", "10"))
STATEFUL_STEPS = int(os.environ.get("ENGAGE_FUZZ_STEPS", "20"))

# Refusals of a request the document calls valid that no JSON Schema can rule out, each by problem type: ids
# that do not exist in the tenant (404), states (409), referenced ids of another tenant or none (422), opaque
# cursors this API did not issue, credentials that name no user or session, and compliance.
SEMANTIC_REFUSALS: dict[int, frozenset[str] | None] = {
    404: None,
    409: None,
    400: frozenset({"invalid-cursor"}),
    401: frozenset({"invalid-credentials", "invalid-refresh-token"}),
    # Failed logins for one email are throttled (the fuzzer's logins all fail).
    429: frozenset({"login-throttled"}),
    403: frozenset(
        {"compliance-blocked", "originate-for-another-agent", "not-an-agent", "not-your-agent", "report-not-allowed"}
    ),
    422: frozenset({"unknown-cli-group", "unknown-agents", "unknown-team", "unsafe-webhook-url"}),
}
# Field errors of a 400 that no JSON Schema can rule out: a number that fits the pattern but no numbering plan, a
# name that is not in the IANA zone database (machine-dependent, so not an enum), one field ordered against or
# excluding another, an instant in the future or within so many days of now, and an integer written as `75.0`
# (JSON Schema's `integer` admits it; the strict fields want `75`).
UNEXPRESSIBLE = re.compile(
    r"not a valid phone number"
    r"|is not an IANA time zone"
    r"|must not be after"
    r"|must be within \d+ days"
    r"|must be in the future"
    r"|cannot be true together with"
    r"|start must be before end"
    r"|Decimal input should have no more than 2 decimal places"
    r"|^Input should be a valid integer$"
    # What PostgreSQL cannot store, refused by the shared schema layer (tests/core/test_unstorable_input.py);
    # free-form values (custom fields) and instants carry no bound the document can state.
    r"|must not contain NUL|must not contain unpaired surrogates"
    r"|number must be between|number must be finite|instant must fall between"
)


def _slug(response: schemathesis.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    kind = body.get("type", "") if isinstance(body, dict) else ""
    return str(kind).rsplit("/", 1)[-1]


def _unexpressible(response: schemathesis.Response) -> bool:
    errors = response.json().get("errors") or []
    return bool(errors) and all(UNEXPRESSIBLE.search(str(error.get("message", ""))) for error in errors)


def role_checks(role: Role, permissions: dict[str, list[Permission]]) -> list[Callable[..., bool | None]]:
    """The two checks that depend on the caller: valid requests accepted (refused only for a reason listed in
    `SEMANTIC_REFUSALS`, or the role's missing permission), and a role without the permission always gets 403."""
    held = ROLE_PERMISSIONS[role]

    def permitted(case: schemathesis.Case) -> bool:
        return all(p in held for p in permissions.get(case.operation.definition.raw.get("operationId", ""), []))

    def valid_requests_accepted(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
            return None
        status, slug = response.status_code, _slug(response)
        if status == 403 and slug == "forbidden" and not permitted(case):
            return None
        allowed = SEMANTIC_REFUSALS.get(status, frozenset())
        if allowed is None or slug in allowed:
            return None
        if status == 400 and slug in ("validation-error", "invalid-phone") and _unexpressible(response):
            return None
        raise AssertionError(f"A valid request was refused as {role}: {status} {response.text[:500]}")

    def forbidden_without_permission(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
        # A body that is not even JSON is refused (400) before any dependency runs; the rule is for requests the
        # document calls valid.
        meta = case.meta
        if permitted(case) or meta is None or not meta.generation.mode.is_positive:
            return None
        assert response.status_code == 403, f"{role} lacks the permission yet got {response.status_code}"
        return None

    return [valid_requests_accepted, forbidden_without_permission]


def invalid_body_or_path_rejected(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """`negative_data_rejection` for a case whose body or path breaks the document. Query and header negations are
    not asserted: undeclared or repeated query parameters are ignored (the last value counts), as HTTP APIs do,
    and the Authorization header is always ours, whatever the case generated."""
    meta = case.meta
    if meta is None:
        return None
    negated = {
        location.value
        for location, info in meta.components.items()
        if info.mode is schemathesis.GenerationMode.NEGATIVE
    }
    if negated & {"body", "path"}:
        return negative_data_rejection(ctx, response, case)
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    invalid_body_or_path_rejected,
]


@pytest.fixture(scope="module")
def fuzz_settings(database_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=database_url), jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(40)))
    )


@pytest.fixture(scope="module")
def served(fuzz_settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    """The app in uvicorn on a loopback port (its lifespan builds the runtime in the server's own loop)."""
    app = create_app(fuzz_settings)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    # Listening before uvicorn starts: connections wait in the backlog until the lifespan has run.
    listener.listen(64)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="fuzz-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@pytest.fixture(scope="module")
async def fuzz_tokens(fuzz_settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> dict[Role, str]:
    """One user per role in a tenant of the run's own, whose rate limit is out of reach."""
    clock = SystemClock()
    async with unscoped_transaction(sessions) as session:
        tenant = await tenancy.create(
            session, name="Fuzz", timezone="Asia/Dubai", country="AE", rate_limit_per_minute=10_000_000, clock=clock
        )
    assert fuzz_settings.jwt.secret is not None
    codec = TokenCodec(
        fuzz_settings.jwt.secret.get_secret_value(), fuzz_settings.jwt.algorithm, fuzz_settings.jwt.access_ttl_seconds
    )
    tokens: dict[Role, str] = {}
    for role in Role:
        async with tenant_transaction(sessions, tenant.id) as session:
            user = await users.create_user(
                session,
                tenant.id,
                UserCreate(
                    email=f"fuzz-{role.value}@acme.test",
                    password="correct horse battery",
                    full_name=f"Fuzz {role.value}",
                    role=role,
                    sip_user=f"fuzz_{role.value}" if role is Role.agent else None,
                ),
                clock=clock,
            )
        tokens[role] = codec.issue(user_id=user.id, tenant_id=tenant.id, role=role, now=clock.now())
    return tokens


def _document() -> dict[str, Any]:
    # The document needs no runtime: an app built from any settings serves the same one.
    return create_app(Settings(jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(40))))).openapi()


# GET /v1/events/stream answers with a Server-Sent Events stream that does not end by itself, so a fuzzer's call to it
# would never return: it is left out of the fuzzed document (the served one still has it), and tests/events covers
# it (authentication, filters, resuming, the problems it answers).
UNFUZZED = {"/v1/events/stream": "get"}


def _fuzzed(document: dict[str, Any]) -> dict[str, Any]:
    paths = {
        path: {method: operation for method, operation in item.items() if UNFUZZED.get(path) != method}
        for path, item in document["paths"].items()
    }
    return {**document, "paths": {path: item for path, item in paths.items() if item}}


DOCUMENT = _document()
FUZZED = _fuzzed(DOCUMENT)
SCHEMA = schemathesis.openapi.from_dict(
    FUZZED, config=schemathesis.Config.from_dict({"generation": {"max-examples": MAX_EXAMPLES}})
)
OPERATIONS = {operation.label: operation for operation in (result.ok() for result in SCHEMA.get_all_operations())}
HYPOTHESIS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("ENGAGE_FUZZ_SEED") is None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


def _permissions(app: FastAPI) -> dict[str, list[Permission]]:
    return {
        context.original_route.name: required_permissions(context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    }


PERMISSIONS = _permissions(create_app(Settings(jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(40))))))


def test_the_served_document_is_the_one_fuzzed(served: tuple[str, FastAPI]) -> None:
    base_url, _ = served
    import httpx

    assert httpx.get(f"{base_url}/openapi.json").json() == DOCUMENT


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_operation_as_each_role_keeps_the_document(
    label: str, role: Role, served: tuple[str, FastAPI], fuzz_tokens: dict[Role, str]
) -> None:
    base_url, _ = served
    operation = OPERATIONS[label]
    headers = {"Authorization": f"Bearer {fuzz_tokens[role]}"}
    checks = CHECKS + role_checks(role, PERMISSIONS)

    raw = operation.definition.raw
    declared = {parameter["name"] for parameter in raw.get("parameters", []) if parameter["in"] == "query"}
    modes = [schemathesis.GenerationMode.POSITIVE]
    if raw.get("parameters") or raw.get("requestBody"):
        # Without parameters or a body there is nothing to make invalid (the token is always ours).
        modes.append(schemathesis.GenerationMode.NEGATIVE)

    for mode in modes:

        @HYPOTHESIS
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            # Undeclared query parameters are ignored, as HTTP APIs do (a cache-buster must not break a call):
            # they are not sent, rather than expected to be refused.
            for name in [name for name in (case.query or {}) if name not in declared]:
                del case.query[name]
            response = case.call(base_url=base_url, headers=headers)
            case.validate_response(response, checks=checks, headers=headers)

        run()


@pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
def test_linked_operations_in_sequence_keep_the_document(
    role: Role, served: tuple[str, FastAPI], fuzz_tokens: dict[Role, str]
) -> None:
    """The stateful run: create → read, update, act on, delete, following the document's links."""
    base_url, _ = served
    headers = {"Authorization": f"Bearer {fuzz_tokens[role]}"}
    checks = CHECKS + role_checks(role, PERMISSIONS)
    schema = schemathesis.openapi.from_dict(FUZZED, config=schemathesis.Config.from_dict({"base-url": base_url}))

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=checks, headers=headers)

    Scenario.run(
        settings=hypothesis.settings(
            HYPOTHESIS, max_examples=max(MAX_EXAMPLES // 2, 5), stateful_step_count=STATEFUL_STEPS
        )
    )
