"""Queries of the compliance engine: its own facts (the attempts the frequency cap counts), the bounded
savepoint the facts are gathered in, the audit log and its verification."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, any_, func, literal_column, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from engage.core.sql import Compiled, Fact, Reads, connection_of, grouped

from .models import AuditEntry, DialAttempt


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the frequency cap reads of an attempt."""

    attempted_at: datetime
    answered: bool
    disposition: str | None


def attempts(
    phones: ColumnElement[list[str]], *, since: ColumnElement[datetime], final_dispositions: ColumnElement[list[str]]
) -> Fact[dict[str, list[Attempt]]]:
    """The tenant's attempts to the numbers in the array `phones` since `since`, and any ever dispositioned as one
    of `final_dispositions`, by number, oldest first (a number without attempts is absent)."""
    terms = tuple_(DialAttempt.phone, DialAttempt.attempted_at, DialAttempt.answered, DialAttempt.disposition)
    found = select(func.array_agg(aggregate_order_by(terms, DialAttempt.attempted_at))).where(
        DialAttempt.phone == any_(phones),
        or_(DialAttempt.attempted_at >= since, DialAttempt.disposition == any_(final_dispositions)),
    )
    return Fact(found.scalar_subquery(), grouped(Attempt))


async def add_attempt(session: AsyncSession, attempt: DialAttempt) -> None:
    session.add(attempt)
    await session.flush()


async def statement_timeout(session: AsyncSession) -> str:
    return str(await session.scalar(text("SELECT current_setting('statement_timeout')")))


@asynccontextmanager
async def bounded(db: Reads, timeout_ms: int) -> AsyncIterator[None]:
    """A savepoint whose statements PostgreSQL stops after `timeout_ms`: one that fails or runs late is undone to
    the savepoint, and the transaction can still write the audit. In and out are one message each (`SAVEPOINT`
    with `SET LOCAL`; `RELEASE` with `RESET`), where a session's savepoint and two settings took four."""
    connection = await connection_of(db)
    await connection.execute(f"SAVEPOINT compliance_facts; SET LOCAL statement_timeout = {max(1, int(timeout_ms))}")
    try:
        yield
    except BaseException:
        if not connection.is_closed():
            # Undoes the SET LOCAL too.
            await connection.execute("ROLLBACK TO SAVEPOINT compliance_facts; RELEASE SAVEPOINT compliance_facts")
        raise
    # Back to the connection's own statement timeout (the one it was opened with).
    await connection.execute("RELEASE SAVEPOINT compliance_facts; RESET statement_timeout")


# One statement for a whole batch, compiled and prepared once whatever its size: the columns travel as
# arrays (asyncpg binary protocol). The chain trigger numbers rows in the order the statement inserts them,
# which the ORDER BY fixes, so sorting the returned numbers gives them back in request order.
_APPEND_AUDIT = Compiled(
    text(
        """
    INSERT INTO compliance_audit (tenant_id, decided_at, channel, actor_user_id, campaign_id, phone, jurisdiction,
                                  rule_version, allowed, blocking_rule, blocking_reason, checks, request)
    SELECT CAST(:tenant_id AS uuid), CAST(:decided_at AS timestamptz), :channel, CAST(:actor_user_id AS uuid),
           u.campaign_id, u.phone, u.jurisdiction, u.rule_version, u.allowed, u.blocking_rule, u.blocking_reason,
           u.checks::jsonb, u.request::jsonb
    FROM unnest(CAST(:campaign_ids AS uuid[]), CAST(:phones AS text[]), CAST(:jurisdictions AS text[]),
                CAST(:rule_versions AS text[]), CAST(:allowed AS boolean[]), CAST(:blocking_rules AS text[]),
                CAST(:blocking_reasons AS text[]), CAST(:checks AS text[]), CAST(:requests AS text[]))
         WITH ORDINALITY AS u(campaign_id, phone, jurisdiction, rule_version, allowed, blocking_rule, blocking_reason,
                              checks, request, position)
    ORDER BY u.position
    RETURNING seq
    """
    )
)


@dataclass(frozen=True, slots=True)
class AuditRow:
    campaign_id: uuid.UUID | None
    phone: str
    jurisdiction: str | None
    rule_version: str | None
    allowed: bool
    blocking_rule: str | None
    blocking_reason: str | None
    checks: dict[str, Any]
    request: dict[str, Any]


async def append_audit(
    db: Reads,
    rows: Sequence[AuditRow],
    *,
    tenant_id: uuid.UUID,
    decided_at: datetime,
    channel: str,
    actor_user_id: uuid.UUID | None,
) -> list[int]:
    """Append the decisions of one batch, in order; their `seq`, in the same order."""
    if not rows:
        return []
    found = await _APPEND_AUDIT.fetch(
        db,
        **{
            "tenant_id": tenant_id,
            "decided_at": decided_at,
            "channel": channel,
            "actor_user_id": actor_user_id,
            "campaign_ids": [row.campaign_id for row in rows],
            "phones": [row.phone for row in rows],
            "jurisdictions": [row.jurisdiction for row in rows],
            "rule_versions": [row.rule_version for row in rows],
            "allowed": [row.allowed for row in rows],
            "blocking_rules": [row.blocking_rule for row in rows],
            "blocking_reasons": [row.blocking_reason for row in rows],
            "checks": [json.dumps(row.checks, ensure_ascii=False) for row in rows],
            "requests": [json.dumps(row.request, ensure_ascii=False) for row in rows],
        },
    )
    return sorted(row[0] for row in found)


async def get_audit(session: AsyncSession, seq: int) -> AuditEntry | None:
    return await session.get(AuditEntry, seq)


# Run by the schema owner (`engage audit verify`): the app role sees one tenant's rows only. Each row is
# checked against the one before it: the stored link, a recomputed hash, and no gap in the numbering.
_VERIFY = text(
    """
    SELECT seq, reason FROM (
      SELECT seq,
        CASE
          WHEN seq <> coalesce(lag(seq) OVER w, 0) + 1 THEN 'a row is missing before it'
          WHEN prev_hash IS DISTINCT FROM lag(hash) OVER w THEN 'its link does not match the previous row''s hash'
          WHEN hash <> engage_audit_digest(prev_hash, a) THEN 'its content does not match its hash'
        END AS reason
      FROM compliance_audit a
      WINDOW w AS (ORDER BY seq)
    ) checked
    WHERE reason IS NOT NULL
    ORDER BY seq
    LIMIT 1
    """
)


@dataclass(frozen=True, slots=True)
class ChainReport:
    rows: int
    last_seq: int
    first_broken_seq: int | None
    reason: str | None


async def verify_chain(connection: AsyncConnection) -> ChainReport:
    broken = (await connection.execute(_VERIFY)).first()
    rows = int((await connection.scalar(text("SELECT count(*) FROM compliance_audit"))) or 0)
    head = (await connection.execute(text("SELECT last_seq, last_hash FROM compliance_audit_head"))).one()
    if broken is not None:
        return ChainReport(rows, head.last_seq, broken.seq, broken.reason)
    last = (await connection.execute(text("SELECT seq, hash FROM compliance_audit ORDER BY seq DESC LIMIT 1"))).first()
    last_seq, last_hash = (last.seq, last.hash) if last is not None else (0, None)
    if (last_seq, last_hash) != (head.last_seq, head.last_hash):
        # Rows removed from the end leave the head pointing past the last row.
        return ChainReport(rows, head.last_seq, last_seq + 1, "rows are missing at the end of the log")
    return ChainReport(rows, head.last_seq, None, None)


@dataclass(frozen=True, slots=True)
class Denials:
    """A campaign's denials on one channel for one blocking rule: distinct numbers, decisions, the latest."""

    rule: str
    numbers: int
    decisions: int
    last_at: datetime


_CHANNELS = {"api": "api", "originate": "originate", "dialer": "dialer"}


async def denials_by_rule(
    session: AsyncSession, campaign_id: uuid.UUID, channel: str, since: datetime
) -> list[Denials]:
    """The campaign's audited denials on `channel` since `since`, by blocking rule, most frequent first (the
    dialer's are served by the partial index `ix_compliance_audit_dialer_denials`)."""
    rule = func.coalesce(AuditEntry.blocking_rule, "unknown")
    query = (
        select(rule, func.count(AuditEntry.phone.distinct()), func.count(), func.max(AuditEntry.decided_at))
        .where(
            AuditEntry.campaign_id == campaign_id,
            ~AuditEntry.allowed,
            # A literal, not a parameter: a partial index on one channel serves only a query that names it.
            AuditEntry.channel == literal_column(f"'{_CHANNELS[channel]}'"),
            AuditEntry.decided_at >= since,
        )
        .group_by(rule)
        .order_by(func.count().desc(), rule)
    )
    return [Denials(r[0], int(r[1]), int(r[2]), r[3]) for r in (await session.execute(query)).all()]
