"""Queries on `agent_states` (and the agents among `users` it describes), always tenant-scoped: they run in
the request's tenant transaction, where row-level security hides every other tenant's rows.

Invariant: an agent without a row is `offline` since the user's `created_at`; writes materialise that row
first and then lock it, so concurrent changes of one agent's state serialise on it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Uuid, bindparam, false, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.principal import Role
from engage.core.sql import Compiled, Reads
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
        .where(AgentState.agent_id.in_(agent_ids), AgentState.state != OFFLINE)
    )
    return int(count or 0)


async def find_agent(session: AsyncSession, agent_id: uuid.UUID) -> User | None:
    """The active user with role agent that has this id, if the tenant has one."""
    return await session.scalar(
        select(User).where(User.id == agent_id, User.role == Role.agent.value, User.is_active.is_(True))
    )


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


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent on the board; `state`, `state_since`, `reason` and `current_call_id` are None when the agent has
    no row."""

    id: uuid.UUID
    full_name: str
    created_at: datetime
    state: str | None
    state_since: datetime | None
    reason: str | None
    current_call_id: uuid.UUID | None
    sip_registered: bool


# What the switch last said about the agent's SIP user; an agent without one is never registered (the outer
# join finds no row for a NULL `sip_user`).
_REGISTERED = func.coalesce(SipRegistration.registered, false())


@functools.cache
def _floor(by_team: bool) -> Compiled:
    query = (
        select(
            User.id,
            User.full_name,
            User.created_at,
            AgentState.state,
            AgentState.state_since,
            AgentState.reason,
            AgentState.current_call_id,
            _REGISTERED.label("sip_registered"),
        )
        .outerjoin(AgentState, AgentState.agent_id == User.id)
        .outerjoin(SipRegistration, SipRegistration.sip_user == User.sip_user)
        .where(User.role == Role.agent.value, User.is_active.is_(True))
        .order_by(User.full_name, User.id)
    )
    return Compiled(query.where(User.team_id == bindparam("team_id", type_=Uuid)) if by_team else query)


async def list_agents(db: Reads, *, team_id: uuid.UUID | None = None) -> list[AgentRow]:
    """Every active agent of the tenant (optionally of one team) with its stored state and SIP registration, by
    name.

    Not paginated, like the seed's response: it is one contact centre's floor (hundreds of rows at most),
    and the `summary` must count the same rows the list shows.
    """
    rows = await (_floor(True).fetch(db, team_id=team_id) if team_id is not None else _floor(False).fetch(db))
    return [
        AgentRow(
            id=row["id"],
            full_name=row["full_name"],
            created_at=row["created_at"],
            state=row["state"],
            state_since=row["state_since"],
            reason=row["reason"],
            current_call_id=row["current_call_id"],
            sip_registered=bool(row["sip_registered"]),
        )
        for row in rows
    ]


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
