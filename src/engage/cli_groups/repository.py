"""Every query on `cli_groups` and `cli_numbers`, always inside a tenant-scoped transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import ColumnElement, Subquery, any_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate
from engage.core.sql import Fact, among, strings

from .models import CliGroup, CliNumber


async def get_group(session: AsyncSession, group_id: uuid.UUID) -> CliGroup | None:
    return await session.get(CliGroup, group_id)


async def group_exists(session: AsyncSession, group_id: uuid.UUID) -> bool:
    """Whether the tenant has this group (RLS hides every other tenant's), without loading its numbers."""
    return bool(await session.scalar(select(exists().where(CliGroup.id == group_id))))


async def add_group(session: AsyncSession, group: CliGroup) -> CliGroup:
    session.add(group)
    await session.flush()
    return group


async def list_groups(session: AsyncSession, params: PageParams) -> PageResult[CliGroup]:
    return await paginate(session, select(CliGroup), CliGroup.id, params)


async def numbers_in_use(session: AsyncSession, numbers: Collection[str]) -> list[str]:
    """Those of `numbers` (E.164) that already belong to one of the tenant's groups, in ascending order."""
    if not numbers:
        return []
    query = select(CliNumber.number).where(among(CliNumber.number, numbers)).order_by(CliNumber.number)
    return list((await session.scalars(query)).all())


def owned_numbers(numbers: ColumnElement[list[str]]) -> Fact[set[str]]:
    """Which of the caller IDs in the array `numbers` are in one of the tenant's CLI groups."""
    return Fact(
        select(func.array_agg(CliNumber.number)).where(CliNumber.number == any_(numbers)).scalar_subquery(), strings
    )


def group_numbers() -> Subquery:
    """`(cli_group_id, number)` of the tenant's CLI numbers, for another domain's repository to join."""
    return select(CliNumber.cli_group_id, CliNumber.number).subquery("cli_group_numbers")
