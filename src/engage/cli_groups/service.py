"""CLI group use cases. Flushes, never commits: the caller's transaction decides.

Invariants: every stored number is a valid E.164 number, read in the tenant's country when typed in local
format (DESIGN.md §3); a number belongs to at most one group of a tenant; a group has at least one number.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Subquery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.clock import Clock
from engage.core.db import violated_constraint
from engage.core.errors import ValidationFailed
from engage.core.ids import new_id
from engage.core.pagination import PageParams, PageResult
from engage.core.phones import to_e164
from engage.core.sql import Fact
from engage.tenancy import service as tenancy_service

from . import repository
from .errors import CliGroupNameTaken, CliGroupNotFound, CliNumberTaken
from .models import CliGroup, CliNumber
from .schemas import CliGroupCreate

# How many offending entries a problem's `detail` spells out; `errors` lists them all.
_DETAIL_ENTRIES = 5


def _normalise(raw_numbers: list[str], country: str) -> list[str]:
    """The numbers in E.164, in request order; a 400 naming every entry that is invalid or repeated."""
    errors: list[dict[str, str]] = []
    first_seen: dict[str, int] = {}
    numbers: list[str] = []
    for index, raw in enumerate(raw_numbers):
        number = to_e164(raw, country)
        if number is None:
            errors.append({"field": f"numbers.{index}", "message": f"{raw} is not a valid phone number in {country}"})
        elif number in first_seen:
            errors.append({"field": f"numbers.{index}", "message": f"{raw} repeats numbers.{first_seen[number]}"})
        else:
            first_seen[number] = index
            numbers.append(number)
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:_DETAIL_ENTRIES])
        raise ValidationFailed(detail, extra={"errors": errors})
    return numbers


async def create_group(session: AsyncSession, tenant_id: uuid.UUID, data: CliGroupCreate, *, clock: Clock) -> CliGroup:
    numbers = sorted(_normalise(data.numbers, await tenancy_service.country(session, tenant_id)))
    taken = await repository.numbers_in_use(session, numbers)
    if taken:
        raise CliNumberTaken(
            f"Already in a CLI group of your organisation: {', '.join(taken)}.", extra={"numbers": taken}
        )
    group_id = new_id()
    group = CliGroup(
        id=group_id,
        tenant_id=tenant_id,
        name=data.name,
        created_at=clock.now(),
        numbers=[CliNumber(id=new_id(), tenant_id=tenant_id, cli_group_id=group_id, number=n) for n in numbers],
    )
    try:
        return await repository.add_group(session, group)
    except IntegrityError as exc:
        constraint = violated_constraint(exc)
        if constraint == "uq_cli_groups_tenant_id_name":
            raise CliGroupNameTaken(f"A CLI group named {data.name} already exists.") from exc
        if constraint == "uq_cli_numbers_tenant_id_number":
            # A concurrent request took a number between the check above and this insert.
            raise CliNumberTaken("A number was just added to another CLI group of your organisation.") from exc
        raise


async def get_group(session: AsyncSession, group_id: uuid.UUID) -> CliGroup:
    group = await repository.get_group(session, group_id)
    if group is None:
        raise CliGroupNotFound(f"No CLI group {group_id} in your organisation.")
    return group


async def list_groups(session: AsyncSession, params: PageParams) -> PageResult[CliGroup]:
    return await repository.list_groups(session, params)


async def group_exists(session: AsyncSession, group_id: uuid.UUID) -> bool:
    return await repository.group_exists(session, group_id)


def owned_numbers(numbers: ColumnElement[list[str]]) -> Fact[set[str]]:
    """Which of the caller IDs (E.164) in the array `numbers` are in one of the tenant's CLI groups: the
    compliance `cli_ownership` check's fact, gathered with the others in one statement."""
    return repository.owned_numbers(numbers)


def group_numbers() -> Subquery:
    """The tenant's CLI numbers with their group (`cli_group_id`, `number`), as a subquery a repository above
    this domain may join in its own statement (the campaign's caller IDs next to its settings, in one query):
    the SQL over `cli_numbers` stays here, and the statement still runs in the caller's tenant scope."""
    return repository.group_numbers()
