"""Queries on `contacts`, always tenant-scoped."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Contact

# A contact that can still be dialled: never tried, or due a retry (DESIGN.md §3, `dialing → pending`).
DIALABLE = "pending"


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
