"""Reading calls: the history, today's figures, the live count, and the agents' board with its call figures.
Reads only (the dialer writes calls); runs in the caller's transaction.

Invariants:
- An agent sees its own calls only: the list, a single call and today's figures are narrowed to
  `agent_id = the caller`; a colleague's call reads as unknown (404), a colleague's id as a filter lists nothing.
- "Today" is the tenant's calendar day in its time zone (`tenants.timezone`), from the injected clock: a call
  counts on the local day its `started_at` falls in.
- The board lives here, not in `agents`: it needs call figures, and agents sits below calls in the layers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Uuid, bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from engage.agents import service as agents
from engage.campaigns import service as campaigns
from engage.core.clock import Clock
from engage.core.errors import ValidationFailed
from engage.core.pagination import PageParams, PageResult
from engage.core.principal import Principal
from engage.core.sql import FactQuery, Reads
from engage.tenancy import service as tenancy_service

from . import repository
from .errors import CallNotFound
from .models import Call, CallStatus
from .repository import CallFilter
from .schemas import CALL_FIELDS, ActiveCalls, CallsToday


@dataclass(frozen=True, slots=True)
class LocalDay:
    """A calendar day in a zone, and the UTC instants it spans: [start, end)."""

    date: date
    start: datetime
    end: datetime


def local_day(now: datetime, zone: ZoneInfo) -> LocalDay:
    """The day `now` falls in, in `zone`. Midnight to midnight, so a DST day lasts 23 or 25 hours."""
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time.min, tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)
    return LocalDay(date=today, start=start, end=end)


async def _today(db: Reads, tenant_id: uuid.UUID, clock: Clock) -> LocalDay:
    zone = ZoneInfo(await tenancy_service.timezone(db, tenant_id))
    return local_day(clock.now(), zone)


_EMPTY: PageResult[str] = PageResult(rows=[], total=0, next_cursor=None, has_more=False)


async def list_calls(
    db: Reads,
    principal: Principal,
    params: PageParams,
    *,
    campaign_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    status: CallStatus | None = None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
) -> PageResult[str]:
    """GET /v1/calls: newest first; `started_from` and `started_to` inclusive. Each item is a call's JSON body as
    `CallRead` writes it, built by PostgreSQL (`core.sql.json_row`)."""
    if started_from is not None and started_to is not None and started_from > started_to:
        raise ValidationFailed(
            "from: must not be after to", extra={"errors": [{"field": "from", "message": "must not be after to"}]}
        )
    own = principal.own_agent_id
    if own is not None:
        if agent_id is not None and agent_id != own:
            # A colleague's calls are not the agent's to see: an empty list, like any filter matching nothing.
            return _EMPTY
        agent_id = own
    where = CallFilter(
        campaign_id=campaign_id,
        agent_id=agent_id,
        status=status.value if status is not None else None,
        started_from=started_from,
        started_to=started_to,
    )
    page = await repository.list_calls(db, params, where, columns=CALL_FIELDS)
    return PageResult(
        rows=[row[repository.JSON_ROW] for row in page.rows],
        total=page.total,
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )


async def get_call(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> Call:
    call = await repository.get_call(session, call_id)
    own = principal.own_agent_id
    if call is None or (own is not None and call.agent_id != own):
        raise CallNotFound(f"No call {call_id} in your organisation.")
    return call


async def find_call(session: AsyncSession, call_id: uuid.UUID) -> Call | None:
    """The tenant's call, for the domains above calls that act on it (recordings); no caller to narrow it to."""
    return await repository.get_call(session, call_id)


def attach_recording(call: Call, recording_id: uuid.UUID) -> None:
    """The call's `recording_id`, set when the switch starts recording it, so the call and its `call.completed`
    event name the recording the uploader will store."""
    call.recording_id = recording_id


async def count_today(
    session: AsyncSession, principal: Principal, *, campaign_id: uuid.UUID | None = None, clock: Clock
) -> CallsToday:
    """GET /v1/calls/count-today: the calls started today (the tenant's day), of one campaign if asked (an
    unknown campaign, like another tenant's, is a 404), an agent's own only."""
    if campaign_id is not None:
        await campaigns.ensure_exists(session, campaign_id)
    day = await _today(session, principal.tenant_id, clock)
    figures = await repository.day_figures(
        session, start=day.start, end=day.end, campaign_id=campaign_id, agent_id=principal.own_agent_id
    )
    return CallsToday(
        date=day.date,
        total_calls=figures.total_calls,
        connected=figures.connected,
        no_answer=figures.no_answer,
        busy=figures.busy,
        failed=figures.failed,
        voicemail=figures.voicemail,
        avg_talk_time_seconds=figures.avg_talk_time_seconds,
        abandon_rate=campaigns.abandon_rate(figures.abandoned, figures.answered_by_person),
        as_of=clock.now(),
    )


async def active_count(db: Reads, *, clock: Clock) -> ActiveCalls:
    """GET /v1/calls/active-count: the tenant's live calls (a wallboard's figure: not narrowed per agent)."""
    ringing, connected = await repository.live_counts(db)
    return ActiveCalls(active_calls=ringing + connected, ringing=ringing, connected=connected, as_of=clock.now())


@dataclass(frozen=True, slots=True)
class LiveBoard:
    """The agents' board (`agents.service.floor`) and each agent's (calls, talk time in seconds) of the tenant's
    day, by the agent's id as text (an agent without calls today is absent)."""

    board: agents.Board
    figures: dict[str, tuple[int, int]]


# The board and its figures in one statement: each domain contributes its fact (`core.sql.Fact`).
_LIVE_BOARD = FactQuery(
    board=agents.floor(bindparam("team_id", type_=Uuid)),
    figures=repository.agent_day_figures(
        start=bindparam("start", type_=repository.INSTANT), end=bindparam("end", type_=repository.INSTANT)
    ),
)


async def board(db: Reads, tenant_id: uuid.UUID, *, team_id: uuid.UUID | None = None, clock: Clock) -> LiveBoard:
    """GET /v1/agents/state: the board, plus calls and talk time per agent today, in one round trip."""
    day = await _today(db, tenant_id, clock)
    facts = await _LIVE_BOARD.gather(db, team_id=team_id, start=day.start, end=day.end)
    return LiveBoard(board=facts["board"], figures=facts["figures"])
