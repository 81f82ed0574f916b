"""Routes: POST /v1/auth/login, /v1/auth/refresh (the seed's bodies), /v1/auth/logout and GET /v1/auth/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from engage.core.deps import PrincipalDep, RuntimeDep, SessionDep
from engage.core.errors import problem_type

from . import service
from .schemas import (
    LoginRequest,
    LoginResponse,
    LogoutRequest,
    RefreshRequest,
    RefreshResponse,
    SessionRead,
    SessionTenant,
    SessionUser,
)
from .service import Authenticator

router = APIRouter(prefix="/v1/auth", tags=["auth"])


async def get_authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


AuthDep = Annotated[Authenticator, Depends(get_authenticator)]

_INVALID_CREDENTIALS_EXAMPLE = {
    "application/problem+json": {
        "example": {
            "type": problem_type("invalid-credentials"),
            "title": "Invalid credentials",
            "status": 401,
            "detail": "Email or password is incorrect.",
            "instance": "01919a1b-c2d3-7e4f-8a5b-6c7d8e9f0a1b",
        }
    }
}


@router.post(
    "/login",
    response_model=LoginResponse,
    summary="Obtain JWT token",
    responses={
        401: {"description": "Invalid credentials", "content": _INVALID_CREDENTIALS_EXAMPLE},
        429: {"description": "Too many failed logins for this email"},
    },
)
async def login(body: LoginRequest, auth: AuthDep) -> LoginResponse:
    issued = await auth.login(body.email, body.password)
    user = issued.user
    return LoginResponse(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
        user=SessionUser(
            id=user.id, email=user.email, full_name=user.full_name, role=user.role, tenant_id=user.tenant_id
        ),
    )


@router.post(
    "/refresh",
    response_model=RefreshResponse,
    summary="Refresh access token",
    responses={401: {"description": "Refresh token invalid, expired, revoked or reused"}},
)
async def refresh(body: RefreshRequest, auth: AuthDep) -> RefreshResponse:
    issued = await auth.refresh(body.refresh_token)
    return RefreshResponse(
        access_token=issued.access_token, expires_in=issued.expires_in, refresh_token=issued.refresh_token
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a refresh token and its family")
async def logout(body: LogoutRequest, auth: AuthDep) -> Response:
    await auth.logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=SessionRead, summary="The signed-in user and the organisation's place")
async def me(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep) -> SessionRead:
    found = await service.whoami(session, principal)
    user = found.user
    return SessionRead(
        user=SessionUser(
            id=user.id, email=user.email, full_name=user.full_name, role=user.role, tenant_id=user.tenant_id
        ),
        tenant=SessionTenant(id=principal.tenant_id, country=found.country, timezone=found.timezone),
        now=runtime.clock.now(),
    )
