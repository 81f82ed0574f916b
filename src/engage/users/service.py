"""User and team use cases. Flushes, never commits: the caller's transaction decides.

Invariants: an email names one user in the installation; a user's team is of the user's tenant; an
admin cannot demote or deactivate themself (a tenant must not lose its last way in by accident).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Subquery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.clock import Clock
from engage.core.db import violated_constraint
from engage.core.ids import new_id
from engage.core.pagination import PageParams, PageResult
from engage.core.principal import Principal, Role
from engage.core.security import hash_password

from . import repository
from .errors import EmailTaken, SelfLockout, SipUserTaken, TeamNameTaken, TeamNotFound, UnknownTeam, UserNotFound
from .models import Team, User
from .schemas import TeamCreate, UserCreate, UserUpdate


def _uniqueness_problem(exc: IntegrityError, *, email: str | None = None, sip_user: str | None = None) -> Exception:
    """The problem a unique-constraint race became; the error itself if it was something else."""
    constraint = violated_constraint(exc)
    if constraint == "uq_users_email_lower":
        return EmailTaken(f"{email} is already in use.")
    if constraint == "uq_users_sip_user":
        return SipUserTaken(f"SIP user {sip_user} is already assigned to another user.")
    if constraint == "uq_teams_tenant_id_name":
        return TeamNameTaken("A team with this name already exists.")
    return exc


async def _check_team(session: AsyncSession, team_id: uuid.UUID | None) -> None:
    if team_id is not None and await repository.get_team(session, team_id) is None:
        raise UnknownTeam(f"team_id {team_id} is not a team of your organisation.")


async def create_user(session: AsyncSession, tenant_id: uuid.UUID, data: UserCreate, *, clock: Clock) -> User:
    # RLS hides other tenants' users, so the installation-wide email check uses the id-only look-up.
    if await repository.find_login(session, data.email) is not None:
        raise EmailTaken(f"{data.email} is already in use.")
    await _check_team(session, data.team_id)
    now = clock.now()
    user = User(
        id=new_id(),
        tenant_id=tenant_id,
        email=data.email,
        # argon2 takes tens of milliseconds of CPU: off the event loop.
        password_hash=await asyncio.to_thread(hash_password, data.password),
        full_name=data.full_name,
        role=data.role.value,
        sip_user=data.sip_user,
        team_id=data.team_id,
        is_active=True,
        created_at=now,
        updated_at=now,
        last_login_at=None,
        sessions_revoked_at=now,
    )
    try:
        return await repository.add_user(session, user)
    except IntegrityError as exc:
        raise _uniqueness_problem(exc, email=data.email, sip_user=data.sip_user) from exc


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise UserNotFound(f"No user {user_id} in your organisation.")
    return user


async def list_users(
    session: AsyncSession,
    params: PageParams,
    *,
    role: Role | None = None,
    team_id: uuid.UUID | None = None,
    is_active: bool | None = None,
) -> PageResult[User]:
    return await repository.list_users(
        session, params, role=role.value if role else None, team_id=team_id, is_active=is_active
    )


async def update_user(
    session: AsyncSession, actor: Principal, user_id: uuid.UUID, data: UserUpdate, *, clock: Clock
) -> User:
    user = await get_user(session, user_id)
    changes = data.model_dump(exclude_unset=True)
    # Read before the flush: a failed flush rolls the transaction back and expires `user`, so reading
    # `user.sip_user` afterwards would try to reload it and fail (a 500 instead of the 409).
    sip_user = changes.get("sip_user", user.sip_user)
    if user.id == actor.user_id and (
        changes.get("is_active") is False or ("role" in changes and changes["role"] != Role.admin)
    ):
        raise SelfLockout("You cannot deactivate yourself or remove your own admin role.")
    if "team_id" in changes:
        await _check_team(session, changes["team_id"])
    new_password = changes.pop("password", None)
    if new_password is not None:
        user.password_hash = await asyncio.to_thread(hash_password, new_password)
    # Read after the (slow) hash, so a login that completed with the old password meanwhile is revoked too.
    now = clock.now()
    if new_password is not None or changes.get("is_active") is False:
        user.sessions_revoked_at = now
    for name, value in changes.items():
        setattr(user, name, value.value if isinstance(value, Role) else value)
    user.updated_at = now
    try:
        await repository.flush(session)
    except IntegrityError as exc:
        raise _uniqueness_problem(exc, sip_user=sip_user) from exc
    return user


async def create_team(session: AsyncSession, tenant_id: uuid.UUID, data: TeamCreate, *, clock: Clock) -> Team:
    team = Team(id=new_id(), tenant_id=tenant_id, name=data.name, created_at=clock.now())
    try:
        return await repository.add_team(session, team)
    except IntegrityError as exc:
        raise _uniqueness_problem(exc) from exc


async def get_team(session: AsyncSession, team_id: uuid.UUID) -> Team:
    team = await repository.get_team(session, team_id)
    if team is None:
        raise TeamNotFound(f"No team {team_id} in your organisation.")
    return team


async def list_teams(session: AsyncSession, params: PageParams) -> PageResult[Team]:
    return await repository.list_teams(session, params)


async def active_agent_ids(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` that are active agents of the tenant (another tenant's ids read as unknown)."""
    return await repository.active_agent_ids(session, user_ids)


def people() -> Subquery:
    """The tenant's users as `(id, full_name, email, dialable)`, a subquery for a repository above this domain to
    join in its own statement (a campaign's assigned agents with their names, in one query). The SQL over `users`
    stays here, `dialable` (an active agent) is this domain's rule, and the statement still runs in the caller's
    tenant scope."""
    return repository.people()


async def find_login(session: AsyncSession, email: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(user_id, tenant_id) of the account with this email in the whole installation, or None: sign-in's one
    look-up across tenants (ids only)."""
    return await repository.find_login(session, email)


async def find_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The tenant's user, or None (sign-in decides what an unknown user means)."""
    return await repository.get_user(session, user_id)


async def record_login(session: AsyncSession, user_id: uuid.UUID, *, at: datetime) -> bool:
    """Stamp the user's `last_login_at`; False when the tenant has no such user (any more)."""
    user = await repository.get_user(session, user_id)
    if user is None:
        return False
    user.last_login_at = at
    await repository.flush(session)
    return True
