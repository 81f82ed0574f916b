"""FastAPI dependencies every tenant-scoped endpoint uses: the principal, permission checks, the
per-tenant rate limit and the request's one transaction.

Invariant: the tenant of every query comes from the verified token, never from the request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from .db import tenant_transaction
from .errors import Forbidden, TooManyRequests, Unauthorized
from .metrics import RATE_LIMITED
from .principal import Permission, Principal, Role
from .ratelimit import check_rate
from .runtime import Runtime
from .security import InvalidToken

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/auth/login")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


# Every dependency is `async def`: FastAPI runs a plain `def` in the thread pool, a thread hop per request each.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_principal(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("Send an access token: Authorization: Bearer <token>.", headers=_CHALLENGE)
    try:
        claims = runtime.tokens.verify(credentials.credentials, now=runtime.clock.now())
        role = Role(claims.role)
    except (InvalidToken, ValueError) as exc:
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


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that yields the principal if its role grants `permission`, else a 403 problem."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"Your role ({principal.role}) does not allow {permission}.")
        return principal

    return dependency


async def tenant_session(principal: PrincipalDep, runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's one transaction, scoped to the caller's tenant; committed before the response is sent."""
    async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
        yield session


# `scope="function"`: the commit happens before the response leaves, so a failed commit is a 500, never a
# 2xx for a change that did not happen.
SessionDep = Annotated[AsyncSession, Depends(tenant_session, scope="function")]
