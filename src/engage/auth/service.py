"""Sign-in use cases. Each spans a cross-tenant look-up and a tenant-scoped transaction, so each owns its
transactions (it is the edge of its use case), as a job would.

Invariants:
- A failed login costs the same whether or not the email exists (a dummy argon2 verify), and the
  throttle counts failures per email whether or not it exists, so neither timing nor 429s reveal accounts.
- Within one process, password checks for one email run one at a time: the throttle's check and its count
  are two steps, so parallel guesses would otherwise all pass the check before the first failure is counted
  (measured: 15 parallel wrong passwords got 15 checks with a limit of 5). Across API processes sharing
  Redis, at most one extra check per process can slip past the limit.
- A refresh token works once. Presenting a used one means it was copied: its whole family is revoked.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.config import JwtSettings, LoginSettings
from engage.core.clock import Clock
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.ids import new_id
from engage.core.metrics import RATE_LIMITED
from engage.core.principal import Principal
from engage.core.ratelimit import Counter
from engage.core.security import TokenCodec, hash_refresh_token, new_refresh_token, verify_password
from engage.tenancy import service as tenancy
from engage.users import service as users
from engage.users.models import User

from . import repository
from .errors import InvalidCredentials, InvalidRefreshToken, LoginThrottled
from .models import RefreshToken

log = structlog.get_logger("engage.auth")


@dataclass(frozen=True, slots=True)
class IssuedSession:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


class _KeyedLocks:
    """One asyncio lock per key, dropped once nobody holds or awaits it, so memory is bounded by the keys in use."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, waiters = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, waiters + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiters = self._locks[key]
            if waiters == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiters - 1)


@dataclass(frozen=True, slots=True)
class Authenticator:
    sessions: async_sessionmaker[AsyncSession]
    counter: Counter
    tokens: TokenCodec
    jwt: JwtSettings
    login_limits: LoginSettings
    clock: Clock
    _login_locks: _KeyedLocks = field(default_factory=_KeyedLocks, init=False, repr=False)

    async def login(self, email: str, password: str) -> IssuedSession:
        email = email.strip().lower()
        throttle_key = "login:" + hashlib.sha256(email.encode()).hexdigest()
        async with self._login_locks.hold(throttle_key):
            user = await self._check_password(throttle_key, email, password)
        now = self.clock.now()
        async with tenant_transaction(self.sessions, user.tenant_id) as session:
            refresh = await self._mint_refresh(session, user, family_id=new_id(), now=now)
            if not await users.record_login(session, user.id, at=now):
                # Deleted between the password check and this transaction (which now rolls back): no session.
                raise InvalidCredentials("Email or password is incorrect.")
        log.info("auth.login_succeeded", user_id=str(user.id), tenant_id=str(user.tenant_id))
        return IssuedSession(
            access_token=self.tokens.issue(user_id=user.id, tenant_id=user.tenant_id, role=user.role, now=now),
            refresh_token=refresh,
            expires_in=self.tokens.ttl_seconds,
            user=user,
        )

    async def _check_password(self, throttle_key: str, email: str, password: str) -> User:
        """The active user with this email and password; else a 401, or a 429 once the email is throttled."""
        window = await self.counter.current(throttle_key)
        if window.count >= self.login_limits.max_failures:
            RATE_LIMITED.labels("login").inc()
            raise LoginThrottled(
                f"Too many failed logins for this email; try again in {window.reset_seconds} s.",
                headers={"Retry-After": str(window.reset_seconds)},
            )
        async with unscoped_transaction(self.sessions) as session:
            found = await users.find_login(session, email)
        user: User | None = None
        if found is not None:
            async with tenant_transaction(self.sessions, found[1]) as session:
                user = await users.find_user(session, found[0])
        password_hash = user.password_hash if user is not None and user.is_active else None
        # Verified even when there is no such user (against a dummy hash): a miss costs as much as a wrong password.
        # The dummy hash never verifies, so `user is None` only narrows the type; it is tested after the hash.
        if not await asyncio.to_thread(verify_password, password_hash, password) or user is None:
            await self.counter.increment(throttle_key, self.login_limits.window_seconds)
            log.info("auth.login_failed", email=email)
            raise InvalidCredentials("Email or password is incorrect.")
        return user

    async def refresh(self, presented: str) -> IssuedSession:
        token_hash = hash_refresh_token(presented)
        async with unscoped_transaction(self.sessions) as session:
            tenant_id = await repository.find_refresh_tenant(session, token_hash)
        if tenant_id is None:
            raise InvalidRefreshToken("The refresh token is not valid; log in again.")
        now = self.clock.now()
        issued: IssuedSession | None = None
        async with tenant_transaction(self.sessions, tenant_id) as session:
            token = await repository.lock_refresh_token(session, token_hash)
            if token is None or token.revoked_at is not None or token.expires_at <= now:
                raise InvalidRefreshToken("The refresh token is expired or revoked; log in again.")
            if token.used_at is not None:
                # A rotated token came back: someone holds a copy. Revoke the family, and commit that.
                await repository.revoke_family(session, token.family_id, now)
            else:
                user = await users.find_user(session, token.user_id)
                if user is None or not user.is_active or token.issued_at < user.sessions_revoked_at:
                    raise InvalidRefreshToken("The refresh token is no longer valid; log in again.")
                token.used_at = now
                issued = IssuedSession(
                    access_token=self.tokens.issue(user_id=user.id, tenant_id=user.tenant_id, role=user.role, now=now),
                    refresh_token=await self._mint_refresh(session, user, family_id=token.family_id, now=now),
                    expires_in=self.tokens.ttl_seconds,
                    user=user,
                )
        if issued is None:
            log.warning("auth.refresh_reused", family_id=str(token.family_id), tenant_id=str(tenant_id))
            raise InvalidRefreshToken("The refresh token was already used; every session from that login is revoked.")
        return issued

    async def logout(self, presented: str) -> None:
        """Revoke the family of this refresh token. Unknown tokens are ignored: logout is idempotent."""
        token_hash = hash_refresh_token(presented)
        async with unscoped_transaction(self.sessions) as session:
            tenant_id = await repository.find_refresh_tenant(session, token_hash)
        if tenant_id is None:
            return
        async with tenant_transaction(self.sessions, tenant_id) as session:
            token = await repository.lock_refresh_token(session, token_hash)
            if token is not None:
                await repository.revoke_family(session, token.family_id, self.clock.now())

    async def _mint_refresh(self, session: AsyncSession, user: User, *, family_id: uuid.UUID, now: datetime) -> str:
        value = new_refresh_token()
        await repository.add_refresh_token(
            session,
            RefreshToken(
                id=new_id(),
                tenant_id=user.tenant_id,
                user_id=user.id,
                family_id=family_id,
                token_hash=hash_refresh_token(value),
                issued_at=now,
                expires_at=now + timedelta(seconds=self.jwt.refresh_ttl_seconds),
                used_at=None,
                revoked_at=None,
            ),
        )
        return value


@dataclass(frozen=True, slots=True)
class Whoami:
    user: User
    country: str
    timezone: str


async def whoami(session: AsyncSession, principal: Principal) -> Whoami:
    """The signed-in user (the principal dependency already refused a deactivated one) and the tenant's place."""
    user = await users.get_user(session, principal.user_id)
    return Whoami(
        user,
        await tenancy.country(session, principal.tenant_id),
        await tenancy.timezone(session, principal.tenant_id),
    )
