"""Queries on `agent_states` (and the agents among `users` it describes), always tenant-scoped: they run in
the request's tenant transaction, where row-level security hides every other tenant's rows.

Invariant: an agent without a row is `offline` since the user's `created_at`; writes materialise that row
first and then lock it, so concurrent changes of one agent's state serialise on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, false, func, or_, select, tuple_
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.principal import Role
from engage.core.sql import Fact, among
from engage.users.models import User

from .models import AgentState, SipRegistration

# "Logged in" in DESIGN.md §3: any state but offline.
OFFLINE = "offline"


async def count_logged_in(session: AsyncSession, agent_ids: Sequence[uuid.UUID]) -> int:
    """How many of these agents are logged in (have a state other than offline)."""
    if not agent_ids:
        return 0
    count = await session.scalar(
        select(func.count())
        .select_from(AgentState)
        .where(among(AgentState.agent_id, agent_ids), AgentState.state != OFFLINE)
    )
    return int(count or 0)


async def find_agent(session: AsyncSession, agent_id: uuid.UUID) -> User | None:
    """The active user with role agent that has this id, if the tenant has one."""
    return await session.scalar(
        select(User).where(User.id == agent_id, User.role == Role.agent.value, User.is_active.is_(True))
    )


async def read_state(session: AsyncSession, agent_id: uuid.UUID) -> AgentState | None:
    return await session.scalar(select(AgentState).where(AgentState.agent_id == agent_id))


async def lock_state(session: AsyncSession, agent: User) -> AgentState:
    """The agent's state row, locked until the transaction ends; created as `offline` since the user's
    `created_at` (what "no row" already meant) if the agent never had one.

    `ON CONFLICT DO NOTHING` then `FOR UPDATE`: a plain read-then-insert would let two first changes race
    to a primary-key violation (a 500), and `FOR UPDATE` alone locks nothing when the row does not exist.
    """
    await session.execute(
        insert(AgentState)
        .values(
            tenant_id=agent.tenant_id,
            agent_id=agent.id,
            state=OFFLINE,
            state_since=agent.created_at,
            reason=None,
        )
        .on_conflict_do_nothing(index_elements=[AgentState.agent_id])
    )
    state = await session.scalar(
        select(AgentState)
        .where(AgentState.agent_id == agent.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if state is None:
        # The insert or the existing row is visible to this transaction, whatever raced it.
        raise LookupError(f"agent_states row of {agent.id} vanished inside its own transaction")
    return state


async def flush(session: AsyncSession) -> None:
    await session.flush()


# What the switch last said about the agent's SIP user; an agent without one is never registered (the outer
# join finds no row for a NULL `sip_user`).
_REGISTERED = func.coalesce(SipRegistration.registered, false())


def floor(team_id: ColumnElement[uuid.UUID | None]) -> Fact[list[Sequence[Any]]]:
    """Every active agent of the tenant (of the team `team_id` unless it is NULL) as one record array, by name:
    (id as text, full name, state, since when, SIP registered, current call id as text). An agent without a state
    row is `offline` since the user's `created_at`. No agent: an empty list.

    Not paginated, like the seed's response: it is one contact centre's floor (hundreds of rows at most), and
    the `summary` must count the same rows the list shows.
    """
    fields = tuple_(
        sql_cast(User.id, Text),
        User.full_name,
        func.coalesce(AgentState.state, OFFLINE),
        func.coalesce(AgentState.state_since, User.created_at),
        _REGISTERED,
        sql_cast(AgentState.current_call_id, Text),
    )
    found = (
        select(func.array_agg(aggregate_order_by(fields, User.full_name, User.id)))
        .select_from(User)
        .outerjoin(AgentState, AgentState.agent_id == User.id)
        .outerjoin(SipRegistration, SipRegistration.sip_user == User.sip_user)
        .where(
            User.role == Role.agent.value,
            User.is_active.is_(True),
            or_(team_id.is_(None), User.team_id == team_id),
        )
    )
    return Fact(found.scalar_subquery(), _records)


def _records(value: list[Sequence[Any]] | None) -> list[Sequence[Any]]:
    return value or []  # NULL: no agent


@dataclass(frozen=True, slots=True)
class SipRow:
    """An active agent and what the switch last said about its SIP user (all None without a registration row)."""

    agent_id: uuid.UUID
    sip_user: str | None
    registered: bool
    registered_at: datetime | None
    user_agent: str | None


async def sip_registrations(session: AsyncSession) -> list[SipRow]:
    """Every active agent of the tenant with its SIP registration, by SIP user. `sip_registrations` is platform
    data without a tenant: it is reached only through the tenant's own users' `sip_user`."""
    query = (
        select(
            User.id,
            User.sip_user,
            _REGISTERED.label("registered"),
            SipRegistration.registered_at,
            SipRegistration.user_agent,
        )
        .outerjoin(SipRegistration, SipRegistration.sip_user == User.sip_user)
        .where(User.role == Role.agent.value, User.is_active.is_(True))
        .order_by(User.sip_user, User.id)
    )
    rows = (await session.execute(query)).all()
    return [
        SipRow(
            agent_id=row.id,
            sip_user=row.sip_user,
            registered=bool(row.registered),
            registered_at=row.registered_at,
            user_agent=row.user_agent,
        )
        for row in rows
    ]
