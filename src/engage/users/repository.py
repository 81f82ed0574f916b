"""Every query on `users` and `teams`, always inside a tenant-scoped transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, Subquery, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate
from engage.core.principal import Role
from engage.core.sql import among

from .models import Team, User


async def find_login(session: AsyncSession, email: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(user_id, tenant_id) of the account with this email in the whole installation (emails are
    unique across tenants), through the SECURITY DEFINER look-up that returns ids only."""
    row = (
        await session.execute(text("SELECT user_id, tenant_id FROM engage_login_lookup(:email)"), {"email": email})
    ).first()
    return (row.user_id, row.tenant_id) if row is not None else None


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def add_user(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def list_users(
    session: AsyncSession,
    params: PageParams,
    *,
    role: str | None = None,
    team_id: uuid.UUID | None = None,
    is_active: bool | None = None,
) -> PageResult[User]:
    query: Select[User] = select(User)
    if role is not None:
        query = query.where(User.role == role)
    if team_id is not None:
        query = query.where(User.team_id == team_id)
    if is_active is not None:
        query = query.where(User.is_active.is_(is_active))
    return await paginate(session, query, User.id, params)


async def get_team(session: AsyncSession, team_id: uuid.UUID) -> Team | None:
    return await session.get(Team, team_id)


async def add_team(session: AsyncSession, team: Team) -> Team:
    session.add(team)
    await session.flush()
    return team


async def list_teams(session: AsyncSession, params: PageParams) -> PageResult[Team]:
    return await paginate(session, select(Team), Team.id, params)


async def active_agent_ids(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` that are active users of the tenant with the role agent."""
    if not user_ids:
        return set()
    query = select(User.id).where(among(User.id, user_ids), User.role == Role.agent.value, User.is_active.is_(True))
    return set((await session.scalars(query)).all())


def people() -> Subquery:
    """`(id, full_name, email, dialable)` of the tenant's users; `dialable`: an active user with the role agent,
    one the dialer may give calls to."""
    dialable = (User.role == Role.agent.value) & User.is_active.is_(True)
    return select(User.id, User.full_name, User.email, dialable.label("dialable")).subquery("people")


async def standing(session: AsyncSession, user_id: uuid.UUID) -> tuple[bool, str, datetime] | None:
    """(is_active, role, sessions_revoked_at) of the tenant's user with this id, else None: one primary-key read."""
    row = (
        await session.execute(select(User.is_active, User.role, User.sessions_revoked_at).where(User.id == user_id))
    ).one_or_none()
    return None if row is None else (bool(row[0]), str(row[1]), row[2])
