"""Agent availability use cases. Flushes, never commits: the caller's transaction decides.

Invariants: only active users with role agent have a state; every change of an agent's state or reason
writes exactly one `agent.state_changed` outbox event in the same transaction, and a request that changes
nothing writes none; the dialer-owned states (`reserved`, `on_call`, `wrap_up`) are never set here, and an agent
reserved for or on a call keeps that state until the dialer ends it (an agent in `wrap_up` may leave it).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.clock import Clock, isoformat_z
from engage.core.outbox import record_event
from engage.core.principal import Principal, Role
from engage.core.sql import Fact
from engage.users.models import User

from . import repository
from .errors import AgentNotFound, AgentOnCall, NotAnAgent
from .schemas import AgentStateChange, AgentStatus

log = structlog.get_logger("engage.agents")

EVENT_STATE_CHANGED = "agent.state_changed"


@dataclass(frozen=True, slots=True)
class Availability:
    """An agent's state as the API shows it."""

    agent_id: uuid.UUID
    state: AgentStatus
    state_since: datetime
    reason: str | None


# An agent on the board as its body holds it (`schemas.AgentOnBoard`), in its order, up to the call figures of the
# day, which are the calls domain's (`calls.service.board`) to add: its id as text, full name, state, since when,
# whether the switch last said its SIP user is registered, and the call the dialer reserved it for or put it on.
BOARD_ENTRY_FIELDS = ("id", "full_name", "state", "state_since", "sip_registered", "current_call_id")
_STATES = tuple(status.value for status in AgentStatus)
# The dialer's while a call lasts: no status change from the API until the call ends (`AgentOnCall`).
_ON_A_CALL = frozenset({AgentStatus.reserved, AgentStatus.on_call})


@dataclass(frozen=True, slots=True)
class Board:
    # Each a fresh dict of `BOARD_ENTRY_FIELDS`: the caller may add to it.
    agents: list[dict[str, Any]]
    # `total` and one count per AgentStatus value (zeros included).
    summary: dict[str, int]


@dataclass(frozen=True, slots=True)
class SipRegistered:
    """The tenant's agents whose SIP user the switch reports registered, out of all its active agents."""

    registered: list[repository.SipRow]
    total_agents: int


async def own_state(session: AsyncSession, principal: Principal) -> Availability:
    """GET /v1/agents/me/state: the agent's availability; `offline` since the account was made if it never set one
    (what no row means, as `repository.lock_state` writes it)."""
    agent = await _own_agent(principal, session)
    row = await repository.read_state(session, agent.id)
    if row is None:
        return _availability(agent.id, AgentStatus.offline.value, agent.created_at, None)
    return _availability(agent.id, row.state, row.state_since, row.reason)


async def _own_agent(principal: Principal, session: AsyncSession) -> User:
    if principal.role is not Role.agent:
        raise NotAnAgent(f"Only agents have an availability state; your role is {principal.role}.")
    agent = await repository.find_agent(session, principal.user_id)
    if agent is None:
        # Role agent in a still-valid token, but the account was deactivated (or demoted) since.
        raise NotAnAgent("Your account is no longer an active agent.")
    return agent


async def set_own_state(
    session: AsyncSession, principal: Principal, data: AgentStateChange, *, clock: Clock
) -> Availability:
    """POST /v1/agents/me/state: only an agent has an availability of its own."""
    agent = await _own_agent(principal, session)
    return await _change(session, principal, agent, data, clock=clock)


async def set_state(
    session: AsyncSession, principal: Principal, agent_id: uuid.UUID, data: AgentStateChange, *, clock: Clock
) -> Availability:
    """POST /v1/agents/{id}/state (supervisor, admin): the agent must be an active agent of the tenant."""
    agent = await repository.find_agent(session, agent_id)
    if agent is None:
        raise AgentNotFound(f"No active agent {agent_id} in your organisation.")
    return await _change(session, principal, agent, data, clock=clock)


async def _change(
    session: AsyncSession, principal: Principal, agent: User, data: AgentStateChange, *, clock: Clock
) -> Availability:
    row = await repository.lock_state(session, agent)
    previous = AgentStatus(row.state)
    requested = AgentStatus(data.state.value)
    if previous in _ON_A_CALL:
        raise AgentOnCall(
            f"{agent.full_name} is {'on a call' if previous is AgentStatus.on_call else 'reserved for a call'}; "
            "the status can change once the call ends."
        )
    if previous is requested and row.reason == data.reason:
        # The same state and reason again (a retry, a double click) changes nothing: no event, and
        # state_since keeps measuring how long the agent has really been in this state.
        return _availability(agent.id, row.state, row.state_since, row.reason)
    if previous is not requested:
        row.state = requested.value
        row.state_since = clock.now()
    # Same state with a new reason (or the reason cleared, the body being the whole new state): the reason
    # changes but state_since stays, since the agent has not left the state; it still counts as a change.
    row.reason = data.reason
    await repository.flush(session)
    await record_event(
        session,
        agent.tenant_id,
        EVENT_STATE_CHANGED,
        {
            "agent_id": str(agent.id),
            "full_name": agent.full_name,
            "previous_state": previous.value,
            "state": requested.value,
            "reason": row.reason,
            "state_since": isoformat_z(row.state_since),
            "changed_by": str(principal.user_id),
        },
        agent.id,
        clock=clock,
    )
    # No `reason` in the log: it is free text that may hold a phone number, and masking works by key.
    log.info(
        "agents.state_changed",
        tenant_id=str(agent.tenant_id),
        agent_id=str(agent.id),
        previous_state=previous.value,
        state=requested.value,
        changed_by=str(principal.user_id),
    )
    return _availability(agent.id, row.state, row.state_since, row.reason)


def _availability(agent_id: uuid.UUID, state: str, state_since: datetime, reason: str | None) -> Availability:
    return Availability(agent_id=agent_id, state=AgentStatus(state), state_since=state_since, reason=reason)


def floor(team_id: ColumnElement[uuid.UUID | None]) -> Fact[Board]:
    """The board as a fact (`core.sql.Fact`), for the calls domain to gather with each agent's call figures in
    one statement: every active agent (of the team `team_id` unless it is NULL; an unknown team, like a team of
    another tenant, is simply one without agents, as in GET /v1/users?team_id=) and the counts per state."""
    records = repository.floor(team_id)
    return Fact(records.column, lambda value: _board(records.read(value)))


def _board(records: list[Sequence[Any]]) -> Board:
    entries = [dict(zip(BOARD_ENTRY_FIELDS, record, strict=True)) for record in records]
    counts = Counter(entry["state"] for entry in entries)
    return Board(agents=entries, summary={"total": len(entries)} | {state: counts[state] for state in _STATES})


async def sip_registered(session: AsyncSession) -> SipRegistered:
    """GET /v1/agents/sip-registered: one query over the active agents and their registrations."""
    rows = await repository.sip_registrations(session)
    return SipRegistered(registered=[row for row in rows if row.registered], total_agents=len(rows))


async def count_logged_in(session: AsyncSession, agent_ids: Sequence[uuid.UUID]) -> int:
    """How many of these agents are logged in (any state but offline): what a campaign needs at least one of to
    start."""
    return await repository.count_logged_in(session, agent_ids)
