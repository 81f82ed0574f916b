"""Queries on refresh tokens. Finding a token's tenant goes through a SECURITY DEFINER function that
returns the id only; everything else runs in a tenant-scoped transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import RefreshToken


async def find_refresh_tenant(session: AsyncSession, token_hash: bytes) -> uuid.UUID | None:
    tenant_id: uuid.UUID | None = await session.scalar(
        text("SELECT engage_refresh_lookup(:token_hash)"), {"token_hash": token_hash}
    )
    return tenant_id


async def lock_refresh_token(session: AsyncSession, token_hash: bytes) -> RefreshToken | None:
    token: RefreshToken | None = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )
    return token


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)
    await session.flush()


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_tokens(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
