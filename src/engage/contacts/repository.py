"""Queries on `contacts`, always tenant-scoped (row-level security; the transaction names the tenant).

The campaign row is read through a Core `table()` rather than `engage.campaigns.models`: campaigns sits
above contacts in the import layers (docs/architecture.md), and contacts only needs its id, name and status.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    case,
    column,
    false,
    func,
    or_,
    select,
    table,
    text,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate
from engage.core.sql import Compiled, Reads

from .models import Contact

# A contact that can still be dialled: never tried, or due a retry (DESIGN.md §3, `dialing → pending`).
DIALABLE = "pending"
# pg_trgm indexes three-character sequences; a LIKE pattern with fewer characters cannot use its index.
_TRIGRAM = 3

_campaigns = table("campaigns", column("id"), column("name"), column("status"))


async def count_dialable(session: AsyncSession, campaign_id: uuid.UUID, max_attempts: int) -> int:
    """Contacts of the campaign that the dialer could still call: pending, with attempts left."""
    count = await session.scalar(
        select(func.count())
        .select_from(Contact)
        .where(
            Contact.campaign_id == campaign_id,
            Contact.status == DIALABLE,
            Contact.attempts < max_attempts,
        )
    )
    return int(count or 0)


@dataclass(frozen=True, slots=True)
class CampaignRef:
    id: uuid.UUID
    name: str
    status: str


async def get_campaign(session: AsyncSession, campaign_id: uuid.UUID, *, lock: bool = False) -> CampaignRef | None:
    """The tenant's campaign (RLS hides every other tenant's). `lock`: hold it against a concurrent
    `complete` for the rest of the transaction (FOR SHARE: uploads to one campaign do not block each other)."""
    query = select(_campaigns.c.id, _campaigns.c.name, _campaigns.c.status).where(_campaigns.c.id == campaign_id)
    if lock:
        query = query.with_for_update(read=True)
    row = (await session.execute(query)).first()
    return CampaignRef(id=row.id, name=row.name, status=row.status) if row is not None else None


@dataclass(frozen=True, slots=True)
class NewContacts:
    """Column arrays of the rows to insert, one entry per contact (already normalised and deduplicated)."""

    ids: list[uuid.UUID]
    phones: list[str]
    first_names: list[str | None]
    last_names: list[str | None]
    custom_fields: list[str]  # JSON text of each object


# One statement for the whole batch: the arrays travel as five parameters (asyncpg binary protocol), the
# unique (campaign_id, phone) constraint skips numbers the campaign already holds, and RETURNING status tells
# which of the stored rows the DNC trigger marked. (COPY is not an option for the app role: PostgreSQL refuses
# COPY FROM into a table with row-level security.) `engage bench contacts` compares it with a raw COPY.
_INSERT_BATCH = text(
    """
    INSERT INTO contacts (id, tenant_id, campaign_id, phone, first_name, last_name, custom_fields, status,
                          attempts, created_at)
    SELECT u.id, CAST(:tenant_id AS uuid), CAST(:campaign_id AS uuid), u.phone, u.first_name, u.last_name,
           u.custom_fields::jsonb, 'pending', 0, CAST(:created_at AS timestamptz)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:phones AS text[]), CAST(:first_names AS text[]),
                CAST(:last_names AS text[]), CAST(:custom_fields AS text[]))
         AS u(id, phone, first_name, last_name, custom_fields)
    ON CONFLICT (campaign_id, phone) DO NOTHING
    RETURNING status
    """
)


async def insert_new(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    rows: NewContacts,
    *,
    created_at: datetime,
) -> list[str]:
    """Insert the rows the campaign does not hold yet; the status of each row stored (`pending` or `dnc`)."""
    if not rows.ids:
        return []
    result = await session.execute(
        _INSERT_BATCH,
        {
            "tenant_id": tenant_id,
            "campaign_id": campaign_id,
            "created_at": created_at,
            "ids": rows.ids,
            "phones": rows.phones,
            "first_names": rows.first_names,
            "last_names": rows.last_names,
            "custom_fields": rows.custom_fields,
        },
    )
    return list(result.scalars().all())


async def count_in_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> int:
    count = await session.scalar(select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign_id))
    return int(count or 0)


async def list_contacts(
    session: AsyncSession, campaign_id: uuid.UUID, params: PageParams, *, status: str | None = None
) -> PageResult[Contact]:
    query: Select[Contact] = select(Contact).where(Contact.campaign_id == campaign_id)
    if status is not None:
        query = query.where(Contact.status == status)
    return await paginate(session, query, Contact.id, params)


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """A search, already read by the service: raw words to match as text (normalised here, in SQL, by the same
    function that built `search_text`), a run of digits to match inside phone numbers, an exact E.164 number."""

    words: Sequence[str]
    digits: str | None
    e164: str | None
    text: str


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# The tenant's contacts, read through the `contact_search` view (migration 20261127_0800). Under row-level
# security PostgreSQL evaluates the policy before any operator that is not leakproof, and LIKE, `~` and
# `similarity` are not, so on `contacts` itself the trigram index is never used for the app role. The view
# applies the policy's predicate (tenant_id = engage_current_tenant()) itself, with its owner's rights, so the
# planner may use ix_contacts_search_trgm. Only this module's queries read it.
_searchable = table(
    "contact_search",
    column("id"),
    column("tenant_id"),
    column("campaign_id"),
    column("phone"),
    column("first_name"),
    column("last_name"),
    column("status"),
    column("search_text"),
)
_text = _searchable.c.search_text


def _contains(value: ColumnElement[Any]) -> ColumnElement[bool]:
    """LIKE '%…%' on the normalised text: the operator ix_contacts_search_trgm serves."""
    return _text.like(func.concat("%", value, "%"), escape="\\")


_NOT_A_WORD_CHARACTER = re.compile(r"\W")


def _word(word: str) -> tuple[str, str] | None:
    """How a word matches and the value its parameter takes: ("substring", the word escaped for LIKE) for three
    characters or more, ("prefix", its letters) for fewer, None when it has no letters."""
    if len(word) >= _TRIGRAM:
        return "substring", _like_escape(word)
    # Only word characters reach the expression, so none of them is a regular-expression operator.
    letters = _NOT_A_WORD_CHARACTER.sub("", word)
    return ("prefix", letters) if letters else None


def _word_match(kind: str, parameter: str) -> ColumnElement[bool]:
    """A substring of the text; or, for a word under three characters, a word prefix ("al" finds "Al Rashid"): a
    regular expression anchored at a word start, from which pg_trgm still takes the padded trigram of a word's
    beginning, so the same index serves it."""
    value = func.engage_search_normalize(bindparam(parameter, type_=String))
    if kind == "substring":
        return _contains(value)
    return _text.op("~")(func.concat("(^| )", func.regexp_replace(value, r"\W", "", "g")))


# Ranking orders the matches by similarity, and every match costs a read of its row (the trigram index only
# narrows them down). A name shared by tens of thousands of contacts would have every one of them read and
# scored, so a search considers the first MAX_MATCHES matches found: `total` counts up to MAX_MATCHES and the
# page is the best of them. A person refines a search that matches more; they do not page through it.
MAX_MATCHES = 1000


@functools.lru_cache(maxsize=256)
def _search(kinds: tuple[str, ...], digits: bool, e164: bool, in_campaign: bool) -> Compiled:
    """The search of this shape (its words' kinds, whether the query has digits or is a number, whether a
    campaign narrows it), compiled once. Parameters: `word0`…, `digits`, `e164`, `text`, `campaign_id`,
    `max_matches`, `page_limit`."""
    matches: list[ColumnElement[bool]] = []
    if kinds:
        matches.append(and_(*(_word_match(kind, f"word{n}") for n, kind in enumerate(kinds))))
    if digits:
        matches.append(_contains(bindparam("digits", type_=String)))
    exact = _searchable.c.phone == bindparam("e164", type_=String)
    if e164:
        # Served by ix_contacts_tenant_id_phone.
        matches.append(exact)
    found = select(_searchable).where(or_(*matches)).limit(bindparam("max_matches", type_=Integer))
    if in_campaign:
        found = found.where(_searchable.c.campaign_id == bindparam("campaign_id", type_=Uuid))
    if e164:
        # The exact number is always among those considered (a number query matches few rows: no cost).
        found = found.order_by(exact.desc())
    candidates = found.subquery("candidates")
    exact_phone = candidates.c.phone == bindparam("e164", type_=String) if e164 else false()
    phone_rank = case((exact_phone, 1), else_=0).label("phone_rank")
    score = func.similarity(
        candidates.c.search_text, func.engage_search_normalize(bindparam("text", type_=String))
    ).label("score")
    page = (
        select(
            candidates.c.id,
            candidates.c.phone,
            candidates.c.first_name,
            candidates.c.last_name,
            candidates.c.campaign_id,
            candidates.c.status,
            phone_rank,
            score,
            func.count().over().label("total"),
        )
        .order_by(phone_rank.desc(), score.desc(), candidates.c.id.desc())
        .limit(bindparam("page_limit", type_=Integer))
        .subquery("page")
    )
    # The campaign name is joined to the page only, after the ranking; ids are selected as text (`for_body`).
    return Compiled(
        select(
            sql_cast(page.c.id, Text).label("id"),
            page.c.phone,
            page.c.first_name,
            page.c.last_name,
            sql_cast(page.c.campaign_id, Text).label("campaign_id"),
            _campaigns.c.name.label("campaign_name"),
            page.c.status,
            page.c.total,
        )
        .join(_campaigns, _campaigns.c.id == page.c.campaign_id)
        .order_by(page.c.phone_rank.desc(), page.c.score.desc(), page.c.id.desc())
    )


async def search(
    db: Reads, terms: SearchTerms, *, campaign_id: uuid.UUID | None, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Ranked matches (exact phone first, then trigram similarity to the normalised query) and their count,
    both within the first MAX_MATCHES matches: each a `ContactHit` body (ids as text)."""
    words = [found for word in terms.words if (found := _word(word)) is not None]
    if not words and terms.digits is None and terms.e164 is None:
        return [], 0
    statement = _search(
        tuple(kind for kind, _ in words), terms.digits is not None, terms.e164 is not None, campaign_id is not None
    )
    values: dict[str, Any] = {f"word{n}": value for n, (_, value) in enumerate(words)}
    if terms.digits is not None:
        values["digits"] = _like_escape(terms.digits)
    rows = await statement.fetch(
        db,
        **values,
        e164=terms.e164,
        text=terms.text,
        campaign_id=campaign_id,
        max_matches=MAX_MATCHES,
        page_limit=limit,
    )
    total = int(rows[0]["total"]) if rows else 0
    return [{key: value for key, value in row.items() if key != "total"} for row in rows], total
