"""Queries on `agent_states`, always tenant-scoped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AgentState

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
