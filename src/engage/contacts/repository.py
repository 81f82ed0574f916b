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
    Select,
    String,
    Uuid,
    bindparam,
    column,
    func,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate
from engage.core.sql import Compiled, Reads

from .models import Contact

# A contact that can still be dialled: never tried, or due a retry (DESIGN.md §3, `dialing → pending`).
DIALABLE = "pending"

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


_CAMPAIGN_EXISTS = Compiled(
    select(func.count() > 0).select_from(_campaigns).where(_campaigns.c.id == bindparam("campaign_id", type_=Uuid))
)


async def campaign_exists(db: Reads, campaign_id: uuid.UUID) -> bool:
    """Whether the tenant has this campaign (RLS hides every other tenant's)."""
    return bool(await _CAMPAIGN_EXISTS.fetchval(db, campaign_id=campaign_id))


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
    """A search, already read by the service: words to find as word prefixes (normalised and split here, in SQL,
    by the function that splits a contact's text into its terms), a run of digits to find inside phone numbers,
    an exact E.164 number."""

    words: Sequence[str]
    digits: str | None
    e164: str | None


# Where a text splits into words: at whitespace and at ASCII and Arabic punctuation, as `engage_search_words`
# (migration 20261206_0900) splits it in SQL, so the service knows how many words the database will see.
_WORD_SEPARATORS = re.compile(r"[\s!-/:-@\[-`{-~،؛؟«»]+")


def split_words(text: str) -> tuple[str, ...]:
    """The words of `text` as a contact's search terms are split (before normalisation, which PostgreSQL does)."""
    return tuple(word for word in _WORD_SEPARATORS.split(text) if word)


# Ranking: the exact number first (rank 0), then word matches (rank 1) in the order of the terms' index: the
# term itself (so the word typed in full comes before the longer words it begins), the length of the contact's
# names (a shorter name is a closer match), the newest contact; then numbers that only contain the digits
# (rank 2), newest first. Each path stops at MAX_MATCHES matches, so a name shared by tens of thousands of
# contacts costs no more than a rare one: `total` counts distinct contacts up to MAX_MATCHES. A person refines a
# search that matches more; they do not page through it.
MAX_MATCHES = 1000

# Words: the longest word (the likeliest to be rare) is looked up as a range of `contact_terms`'s index
# (migration 20261206_0900), which the table's policy scopes to the tenant. U+10FFFF sorts after every character
# in the "C" collation, so [w, w || U+10FFFF) is every term that begins with w. The range is read twice, both
# times from the index alone: for the count, only the contact ids, up to MAX_MATCHES; for the page, in rank
# order, only as far as the page needs. Each word is normalised on its own (`words` holds them, longest first).
_WORDS = """
words AS MATERIALIZED (SELECT {normalised}),
lead AS MATERIALIZED (SELECT word0 COLLATE "C" AS low, (word0 || U&'\\+10FFFF') COLLATE "C" AS high FROM words)"""
_WORD_MATCHES = """
  FROM contact_terms AS t
  WHERE t.tenant_id = engage_current_tenant()
    AND t.term >= (SELECT low FROM lead) AND t.term < (SELECT high FROM lead){in_campaign}{other_words}"""
_WORD_IDS = "SELECT t.contact_id{matches}\n  LIMIT {max_matches}"
_WORD_HEAD = """SELECT t.contact_id, 1 AS rank, t.term, t.weight{matches}
  ORDER BY t.term, t.weight, t.contact_id DESC
  LIMIT {head}"""
# Every other word must begin one of the same contact's terms. A word of three letters or more: the contacts of
# its own range, read once into a hash (an `IN` that PostgreSQL cannot turn into a join, `IS TRUE`, is a hashed
# subplan; as a join it chose a nested loop over both ranges and took half a minute for "Ahmed Rashid" at
# 1,000,000 contacts). A shorter word ("al") has too many terms to hash: each candidate's own terms are checked.
_IN_WORD = """
    AND ((SELECT word{n} FROM words) IS NULL OR (t.contact_id IN (
      SELECT u.contact_id FROM contact_terms AS u
      WHERE u.tenant_id = engage_current_tenant()
        AND u.term >= (SELECT word{n} COLLATE "C" FROM words)
        AND u.term < (SELECT (word{n} || U&'\\+10FFFF') COLLATE "C" FROM words))) IS TRUE)"""
# With several words, the lead's range is filtered once, into the matches both the count and the page read.
_WORD_FILTERED = """
word_matches AS MATERIALIZED (
  SELECT t.contact_id, t.term, t.weight{matches}
  ORDER BY t.term, t.weight, t.contact_id DESC
  LIMIT {max_matches}
)"""
_FILTERED_HEAD = """SELECT contact_id, 1 AS rank, term, weight FROM word_matches
  ORDER BY term, weight, contact_id DESC LIMIT {head}"""
_HAS_WORD = """
    AND ((SELECT word{n} FROM words) IS NULL OR EXISTS (
      SELECT 1 FROM contacts AS c, unnest(engage_contact_terms(c.first_name, c.last_name, c.custom_fields)) AS term
      WHERE c.id = t.contact_id AND starts_with(term, (SELECT word{n} FROM words))))"""
# A word shorter than this is checked contact by contact rather than hashed.
_HASHED_WORD = 3
# What normalisation deletes (tashkeel, superscript alef, tatweel; combining accents): not part of a word's length.
_DELETED = re.compile("[\u064b-\u065f\u0670\u0640\u0300-\u036f]")


def _by_length(words: Sequence[str]) -> list[tuple[int, str]]:
    """The words that keep a letter once normalised, with their length, longest first (the first drives the
    search)."""
    kept = [(len(_DELETED.sub("", word)), word) for word in words]
    return sorted(((length, word) for length, word in kept if length), key=lambda k: -k[0])


# Digits and numbers read `contact_search` (the view applies the tenant predicate itself, so the trigram
# index on `phone` serves the LIKE; see docs/architecture.md). A trigram match cannot be read in rank order:
# the first MAX_MATCHES found are kept, and ranked.
_DIGITS = """
digit_matches AS MATERIALIZED (
  SELECT s.id FROM contact_search AS s
  WHERE s.phone LIKE '%' || :digits || '%'{in_campaign}
  LIMIT {max_matches}
)"""
_NUMBER = """
number_matches AS MATERIALIZED (
  SELECT s.id FROM contact_search AS s
  WHERE s.phone = :e164{in_campaign}
)"""
_MATCHES_HEAD = """SELECT id AS contact_id, {rank} AS rank, NULL::text COLLATE "C" AS term, 0 AS weight
  FROM {matches} ORDER BY id DESC LIMIT {head}"""
# A contact found twice (by two of its words, by a word and its number) counts once and shows at its best
# rank; the paths together count up to MAX_MATCHES, as one would. The page comes from the first
# `page_limit + duplicates` entries of each path, which hold the first `page_limit` distinct contacts. The
# campaign's name is a subquery per row of the page: as a join, the planner could start from the campaigns.
_RANKED = """
counted AS MATERIALIZED (
  SELECT count(*) AS entries, count(DISTINCT contact_id) AS contacts FROM ({ids}) AS found
),
head AS ({head}),
page AS (
  SELECT DISTINCT ON (contact_id) contact_id, rank, term, weight FROM head
  ORDER BY contact_id, rank, term, weight
)
SELECT c.id::text AS id, c.phone, c.first_name, c.last_name, c.campaign_id::text AS campaign_id,
  (SELECT k.name FROM campaigns AS k WHERE k.id = c.campaign_id) AS campaign_name, c.status,
  (SELECT least(contacts, {max_matches}) FROM counted) AS total
FROM page JOIN contacts AS c ON c.id = page.contact_id
ORDER BY page.rank, page.term, page.weight, page.contact_id DESC
LIMIT {page_limit}"""


# The limits are written into the statement, not passed: with them as parameters PostgreSQL planned the search
# anew on every call (a custom plan's estimate beat the generic one's), which cost as much as running it.
@functools.lru_cache(maxsize=256)
def _search(
    words: tuple[bool, ...], digits: bool, e164: bool, in_campaign: bool, max_matches: int, page_limit: int
) -> Compiled:
    """The search of this shape (its words, longest first, each whether it is hashed; whether the query has digits
    or is a number; whether a campaign narrows it; its limits), compiled once. Parameters: `word0`…, `digits`,
    `e164`, `campaign_id`."""
    max_matches, page_limit = int(max_matches), int(page_limit)
    # Only integers and this module's constants are written into the text; every value is a parameter.
    head = f"{page_limit} + (SELECT entries - contacts FROM counted)"  # noqa: S608
    ctes: list[str] = []
    ids: list[str] = []
    heads: list[str] = []
    in_view = "\n  AND s.campaign_id = :campaign_id" if in_campaign else ""
    if words:
        normalised = ", ".join(f"(engage_search_words(:word{n}))[1] AS word{n}" for n in range(len(words)))
        ctes.append(_WORDS.format(normalised=normalised))
        others = [(n, hashed) for n, hashed in enumerate(words) if n > 0]
        matches = _WORD_MATCHES.format(
            in_campaign="\n    AND t.campaign_id = :campaign_id" if in_campaign else "",
            # The hashed words first: they narrow the candidates before any is checked one by one.
            other_words="".join(
                (_IN_WORD if hashed else _HAS_WORD).format(n=n) for n, hashed in sorted(others, key=lambda o: not o[1])
            ),
        )
        if others:
            ctes.append(_WORD_FILTERED.format(matches=matches, max_matches=max_matches))
            ids.append("SELECT contact_id FROM word_matches")
            heads.append(_FILTERED_HEAD.format(head=head))
        else:
            ids.append(_WORD_IDS.format(matches=matches, max_matches=max_matches))
            heads.append(_WORD_HEAD.format(matches=matches, head=head))
    for present, template, name, rank in ((digits, _DIGITS, "digit_matches", 2), (e164, _NUMBER, "number_matches", 0)):
        if present:
            ctes.append(template.format(in_campaign=in_view, max_matches=max_matches))
            ids.append(f"SELECT id FROM {name}")  # noqa: S608
            heads.append(_MATCHES_HEAD.format(rank=rank, matches=name, head=head))
    union = "\n  UNION ALL\n  ".join
    ctes.append(
        _RANKED.format(
            ids=union(f"({part})" for part in ids),
            head=union(f"({part})" for part in heads),
            max_matches=max_matches,
            page_limit=page_limit,
        )
    )
    sql = "WITH " + ",".join(ctes)
    types: dict[str, type[String] | type[Uuid[Any]]] = {
        **{f"word{n}": String for n in range(len(words))}, "digits": String, "e164": String, "campaign_id": Uuid
    }  # fmt: skip
    used = [bindparam(name, type_=kind) for name, kind in types.items() if f":{name}" in sql]
    return Compiled(text(sql).bindparams(*used))


async def search(
    db: Reads, terms: SearchTerms, *, campaign_id: uuid.UUID | None, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Ranked matches (see MAX_MATCHES) and their count: each a `ContactHit` body (ids as text)."""
    words = _by_length(terms.words)
    if not words and terms.digits is None and terms.e164 is None:
        return [], 0
    statement = _search(
        tuple(length >= _HASHED_WORD for length, _ in words),
        terms.digits is not None,
        terms.e164 is not None,
        campaign_id is not None,
        MAX_MATCHES,
        limit,
    )
    rows = await statement.fetch(
        db,
        **{f"word{n}": word for n, (_, word) in enumerate(words)},
        digits=terms.digits,
        e164=terms.e164,
        campaign_id=campaign_id,
    )
    total = int(rows[0]["total"]) if rows else 0
    return [{key: value for key, value in row.items() if key != "total"} for row in rows], total
