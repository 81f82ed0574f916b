"""Contact use cases: upload, listing and search. Flushes, never commits: the caller's transaction decides.

Invariants: a stored phone is a valid E.164 number (local formats read in the tenant's country); a campaign
holds a number once; a number on the tenant's DNC list is stored as `dnc` (by the database trigger, so a
concurrent DNC addition cannot slip between a check here and the insert).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.clock import Clock
from engage.core.ids import new_id
from engage.core.pagination import PageParams, PageResult
from engage.core.phones import to_e164
from engage.core.sql import Reads
from engage.tenancy import service as tenancy_service

from . import repository
from .errors import CampaignCompleted, CampaignNotFound, TooManyContacts
from .models import Contact
from .repository import CampaignRef, NewContacts, SearchTerms
from .schemas import MAX_UPLOAD, ContactIn, ContactSearch, ContactStatus, ContactUpload, UploadResult

log = structlog.get_logger("engage.contacts")

# A phone query is digits with the separators people type between them, optionally after a `+`.
_PHONE_QUERY = re.compile(r"\+?[\d\s\-().]+")
_SEPARATORS = re.compile(r"[\s\-().+]")
# Shorter digit runs match far too many numbers to be a useful search (issue 3: "a run of ≥ 3 digits").
MIN_DIGITS = 3
# Contacts normalised per step of an upload (see `upload`): a fifth of the largest request.
UPLOAD_CHUNK = 2_000
# Words beyond this are ignored: a search box is not a document.
MAX_WORDS = 8


def _not_found(campaign_id: uuid.UUID) -> CampaignNotFound:
    return CampaignNotFound(f"No campaign {campaign_id} in your organisation.")


async def _campaign(session: AsyncSession, campaign_id: uuid.UUID, *, lock: bool = False) -> CampaignRef:
    campaign = await repository.get_campaign(session, campaign_id, lock=lock)
    if campaign is None:
        raise _not_found(campaign_id)
    return campaign


@dataclass
class _Prepared:
    rows: NewContacts = field(default_factory=lambda: NewContacts([], [], [], [], []))
    invalid: int = 0
    repeated: int = 0


def _prepare(contacts: Sequence[ContactIn], country: str, seen: set[str]) -> _Prepared:
    """Normalise every phone, drop invalid ones and repeats within the request (the first one wins; `seen` holds
    the numbers of the request's earlier chunks and is updated)."""
    prepared = _Prepared()
    rows = prepared.rows
    for contact in contacts:
        phone = to_e164(contact.phone, country)
        if phone is None:
            prepared.invalid += 1
            continue
        if phone in seen:
            prepared.repeated += 1
            continue
        seen.add(phone)
        rows.ids.append(new_id())
        rows.phones.append(phone)
        rows.first_names.append(contact.first_name or None)
        rows.last_names.append(contact.last_name or None)
        rows.custom_fields.append(json.dumps(contact.custom_fields, ensure_ascii=False))
    return prepared


async def upload(
    session: AsyncSession, tenant_id: uuid.UUID, campaign_id: uuid.UUID, data: ContactUpload, *, clock: Clock
) -> UploadResult:
    if len(data.contacts) > MAX_UPLOAD:
        raise TooManyContacts(
            f"{len(data.contacts)} contacts in one request; send at most {MAX_UPLOAD} per request.",
            extra={"max_contacts": MAX_UPLOAD},
        )
    # Held (FOR SHARE) until commit, so the campaign cannot be completed halfway through an upload.
    campaign = await _campaign(session, campaign_id, lock=True)
    if campaign.status == "completed":
        raise CampaignCompleted(f"Campaign {campaign_id} is completed; it takes no more contacts.")
    country = await tenancy_service.country(session, tenant_id)
    # phonenumbers is pure Python (20 to 40 µs a number): 10,000 of them must not stall the event loop, so they are
    # normalised in a thread, one chunk ahead of the inserts. While PostgreSQL inserts a chunk, the thread reads
    # the next, and the two costs overlap instead of adding up. Only this coroutine uses the session.
    chunks = [data.contacts[start : start + UPLOAD_CHUNK] for start in range(0, len(data.contacts), UPLOAD_CHUNK)]
    seen: set[str] = set()
    statuses: list[str] = []
    invalid = repeated = offered = 0
    created_at = clock.now()
    ahead = asyncio.ensure_future(asyncio.to_thread(_prepare, chunks[0], country, seen)) if chunks else None
    # Counted before the inserts, while the first chunk is read: all of it visible, so an index-only count.
    held_before = await repository.count_in_campaign(session, campaign_id)
    following = 1  # the index of the chunk after the one `ahead` prepares
    while ahead is not None:
        prepared = await ahead
        ahead = (
            asyncio.ensure_future(asyncio.to_thread(_prepare, chunks[following], country, seen))
            if following < len(chunks)
            else None
        )
        following += 1
        invalid += prepared.invalid
        repeated += prepared.repeated
        offered += len(prepared.rows.ids)
        statuses += await repository.insert_new(session, tenant_id, campaign_id, prepared.rows, created_at=created_at)
    dnc = sum(1 for status in statuses if status == ContactStatus.dnc)
    result = UploadResult(
        imported=len(statuses) - dnc,
        duplicates_skipped=repeated + offered - len(statuses),
        dnc_filtered=dnc,
        invalid_phones=invalid,
        # As this transaction sees the campaign (an upload committing meanwhile is not counted).
        total_in_campaign=held_before + len(statuses),
    )
    log.info("contacts.uploaded", tenant_id=str(tenant_id), campaign_id=str(campaign_id), **result.model_dump())
    return result


async def list_contacts(
    session: AsyncSession, campaign_id: uuid.UUID, params: PageParams, *, status: ContactStatus | None = None
) -> PageResult[Contact]:
    await _campaign(session, campaign_id)
    return await repository.list_contacts(session, campaign_id, params, status=status.value if status else None)


def read_query(q: str, country: str) -> SearchTerms:
    """What a search box holds: a phone number (E.164, `00…` or local format), a run of digits, or words."""
    text = q.strip()
    if _PHONE_QUERY.fullmatch(text):
        digits = _SEPARATORS.sub("", text)
        # `00` is the international prefix and a lone leading `0` the trunk prefix of a local number: neither
        # is part of a stored E.164 number, so the rest is what to look for inside them.
        if digits.startswith("00"):
            digits = digits[2:]
        elif digits.startswith("0"):
            digits = digits[1:]
        e164 = to_e164(text, country)
        if e164 is not None or len(digits) >= MIN_DIGITS:
            return SearchTerms(
                # The digits may also begin a value of a custom field (a reference, an account number); written
                # with dashes or dots, the query may be such a value as typed (a date), in words.
                words=repository.split_words(text)[:MAX_WORDS] if any(mark in text for mark in "-.") else (digits,),
                digits=digits if len(digits) >= MIN_DIGITS else None,
                e164=e164,
            )
    return SearchTerms(words=repository.split_words(text)[:MAX_WORDS], digits=None, e164=None)


async def search(db: Reads, tenant_id: uuid.UUID, data: ContactSearch) -> dict[str, Any]:
    """The JSON body of `SearchResult`, as plain values (see `repository.search`)."""
    if data.campaign_id is not None and not await repository.campaign_exists(db, data.campaign_id):
        raise _not_found(data.campaign_id)
    terms = read_query(data.q, await tenancy_service.country(db, tenant_id))
    items, total = await repository.search(db, terms, campaign_id=data.campaign_id, limit=data.limit)
    return {"items": items, "total": total}


async def count_dialable(session: AsyncSession, campaign_id: uuid.UUID, max_attempts: int) -> int:
    """Contacts of the campaign the dialer could still call (pending, with attempts left): what a campaign needs
    at least one of to start."""
    return await repository.count_dialable(session, campaign_id, max_attempts)
