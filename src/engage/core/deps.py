"""FastAPI dependencies every tenant-scoped endpoint uses: the principal, permission checks, the
per-tenant rate limit and the request's one transaction.

Invariant: the tenant of every query comes from the verified token, never from the request.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from .db import tenant_reads, tenant_transaction, tenant_writes
from .errors import Forbidden, TooManyRequests, Unauthorized
from .metrics import RATE_LIMITED
from .principal import Permission, Principal, Role
from .ratelimit import check_rate
from .runtime import Runtime
from .security import AccessClaims, InvalidToken

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/auth/login")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


# Every dependency is `async def`: FastAPI runs a plain `def` in the thread pool, a thread hop per request each.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# The bearer credentials of a request, if any: for a route that admits its caller itself (`declare_permission`).
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_principal(request: Request, runtime: RuntimeDep, credentials: BearerCredentials) -> Principal:
    return await _admit(request, runtime, credentials)


async def _admit(request: Request, runtime: Runtime, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller of a tenant-scoped route: a valid token whose user still stands, within the tenant's rate
    limit; else the 401 or 429 problem."""
    return await admit_claims(request, runtime, bearer_claims(runtime, credentials))


def bearer_claims(runtime: Runtime, credentials: HTTPAuthorizationCredentials | None) -> AccessClaims:
    """The claims of the request's access token, valid and unexpired by the runtime's clock; else the 401."""
    if credentials is None:
        raise Unauthorized("Send an access token: Authorization: Bearer <token>.", headers=_CHALLENGE)
    try:
        return runtime.tokens.verify(credentials.credentials, now=runtime.clock.now())
    except InvalidToken as exc:
        raise Unauthorized("The access token is invalid or has expired.", headers=_CHALLENGE) from exc


async def admit_claims(request: Request, runtime: Runtime, claims: AccessClaims) -> Principal:
    """The principal of verified claims (an access token's, or a credential standing for one), if its user still
    stands as they say, within the tenant's rate limit; else the 401 or 429 problem."""
    try:
        role = Role(claims.role)
    except ValueError as exc:
        raise Unauthorized("The access token is invalid or has expired.", headers=_CHALLENGE) from exc
    if not await runtime.access(claims):
        raise Unauthorized(
            "The access token no longer applies: its user was deactivated, changed role or had their sessions "
            "revoked. Log in again.",
            headers=_CHALLENGE,
        )
    request.state.tenant_id = str(claims.tenant_id)
    limit = await runtime.tenant_rate_limit(claims.tenant_id)
    decision = await check_rate(runtime.counter, f"tenant:{claims.tenant_id}", limit=limit)
    request.state.rate_limit = decision
    if not decision.allowed:
        RATE_LIMITED.labels("tenant").inc()
        raise TooManyRequests(
            f"Your organisation exceeded {limit} requests per minute; retry after {decision.reset_seconds} s.",
            headers=decision.headers(),
        )
    return Principal(user_id=claims.user_id, tenant_id=claims.tenant_id, role=role)


PrincipalDep = Annotated[Principal, Depends(current_principal)]

# The permission each checking dependency asks for, so the OpenAPI document can state its 403 (`core.openapi`).
_PERMISSIONS: dict[Callable[..., Any], Permission] = {}


def permission_of(call: Callable[..., Any]) -> Permission | None:
    """The permission this dependency checks (`require`, `scoped`, `reading`); None for any other."""
    return _PERMISSIONS.get(call)


def admits(call: Callable[..., Any]) -> bool:
    """Whether this dependency checks the bearer token (and so may answer 401 and 429)."""
    return call is current_principal or call in _PERMISSIONS


def declare_permission(dependency: Callable[..., Any], permission: Permission) -> None:
    """Declare a dependency that admits its caller itself (through `admit_claims`) and checks `permission`, as
    `require` does: a route with a credential of its own (the event stream's query token). The document then
    states its 401, 403 and 429, and the route counts as permission-checked."""
    _PERMISSIONS[dependency] = permission


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that yields the principal if its role grants `permission`, else a 403 problem."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"Your role ({principal.role}) does not allow {permission}.")
        return principal

    _PERMISSIONS[dependency] = permission
    return dependency


async def tenant_session(principal: PrincipalDep, runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's one transaction, scoped to the caller's tenant; committed before the response is sent."""
    async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
        yield session


# `scope="function"`: the commit happens before the response leaves, so a failed commit is a 500, never a
# 2xx for a change that did not happen.
SessionDep = Annotated[AsyncSession, Depends(tenant_session, scope="function")]


@dataclass(frozen=True, slots=True)
class Scope:
    """What a tenant-scoped route works with: its caller, the request's transaction and the runtime."""

    principal: Principal
    session: AsyncSession
    runtime: Runtime


@dataclass(frozen=True, slots=True)
class Reading:
    """What a tenant-scoped route on a direct connection works with: its caller, the request's transaction on an
    asyncpg connection (read-only from `reading`, read-write from `writing`) and the runtime."""

    principal: Principal
    db: asyncpg.Connection
    runtime: Runtime


Writing = Reading


# `scoped`, `reading` and `writing` are `require(permission)`, the transaction and `RuntimeDep` as one dependency,
# for the hottest routes: FastAPI resolves each dependency of a request anew (its parameters, its sub-dependencies,
# its cache key), and on a read that takes a millisecond that bookkeeping was a third of the time (`engage bench
# api`). Same checks in the same order (401, 429, then 403); the transaction ends before the response leaves, so
# use them with `scope="function"`.


def scoped(permission: Permission) -> Callable[..., AsyncIterator[Scope]]:
    """The caller, allowed `permission`, with the request's transaction as a session (`SessionDep`'s)."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> AsyncIterator[Scope]:
        runtime, principal = await _allowed(request, credentials, permission)
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            yield Scope(principal, session, runtime)

    _PERMISSIONS[dependency] = permission
    return dependency


def reading(permission: Permission) -> Callable[..., AsyncIterator[Reading]]:
    """The caller, allowed `permission`, with a read-only transaction on an asyncpg connection (`tenant_reads`):
    for routes that run only compiled reads (`core.sql`)."""
    return _direct(permission, tenant_reads)


def writing(permission: Permission) -> Callable[..., AsyncIterator[Writing]]:
    """`reading`, with a transaction that may write (`tenant_writes`), committed before the response leaves: for
    routes whose every statement, writes included, is compiled (`core.sql`)."""
    return _direct(permission, tenant_writes)


def _direct(
    permission: Permission,
    transaction: Callable[[AsyncEngine, uuid.UUID], AbstractAsyncContextManager[asyncpg.Connection]],
) -> Callable[..., AsyncIterator[Reading]]:
    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> AsyncIterator[Reading]:
        runtime, principal = await _allowed(request, credentials, permission)
        async with transaction(runtime.engine, principal.tenant_id) as db:
            yield Reading(principal, db, runtime)

    _PERMISSIONS[dependency] = permission
    return dependency


async def _allowed(
    request: Request, credentials: HTTPAuthorizationCredentials | None, permission: Permission
) -> tuple[Runtime, Principal]:
    runtime: Runtime = request.app.state.runtime
    principal = await _admit(request, runtime, credentials)
    if not principal.can(permission):
        raise Forbidden(f"Your role ({principal.role}) does not allow {permission}.")
    return runtime, principal
