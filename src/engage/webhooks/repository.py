"""Every query on `webhook_subscriptions` and `webhook_deliveries`.

The API's run inside a tenant-scoped transaction: row-level security keeps each tenant to its own rows, so an
id of another tenant reads as absent. The dispatcher's cross-tenant work (`fan_out`, `claim`, `settle`, at the
end) goes through the three SECURITY DEFINER functions of migration 20261127_0930 and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Float, Integer, String, column, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate

from .models import WebhookDelivery, WebhookSubscription
from .sender import AttemptResult


async def add(session: AsyncSession, subscription: WebhookSubscription) -> WebhookSubscription:
    session.add(subscription)
    await session.flush()
    return subscription


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def lock_tenant_subscriptions(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Serialise subscription creation within one tenant until the transaction ends, so two concurrent
    creations cannot both see room under the limit (a transaction-scoped advisory lock on the tenant)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"engage.webhooks:{tenant_id}"}
    )


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(WebhookSubscription)) or 0)


async def get(
    session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription | None:
    """The tenant's subscription (RLS hides every other tenant's). `for_update`: locked until the transaction
    ends, so concurrent updates and rotations apply one after the other."""
    query = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def list_subscriptions(session: AsyncSession, params: PageParams) -> PageResult[WebhookSubscription]:
    """Newest first."""
    return await paginate(session, select(WebhookSubscription), WebhookSubscription.id, params)


async def remove(session: AsyncSession, subscription_id: uuid.UUID) -> bool:
    """Delete the subscription (its deliveries go with it: ON DELETE CASCADE); whether it existed."""
    result = await session.execute(
        delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id).returning(WebhookSubscription.id)
    )
    return result.scalar_one_or_none() is not None


async def list_deliveries(
    session: AsyncSession, subscription_id: uuid.UUID, params: PageParams, *, status: str | None = None
) -> PageResult[WebhookDelivery]:
    """The subscription's deliveries, newest first (ids are UUIDv7, made when the event was fanned out)."""
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return await paginate(session, query, WebhookDelivery.id, params)


async def get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, *, for_update: bool = False
) -> WebhookDelivery | None:
    """One delivery of this subscription. `for_update` also waits for a dispatcher that holds it (its claim
    locks the row only for the claim's own short transaction; the lease is the `leased_until` column)."""
    query = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    tenant_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    correlation_id: uuid.UUID | None
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str
    previous_secret: str | None
    leased_until: datetime

    @property
    def secrets(self) -> list[str]:
        """Signing secrets in force, the current one first (the previous one during a rotation's grace)."""
        return [self.secret] if self.previous_secret is None else [self.secret, self.previous_secret]


# The three SECURITY DEFINER functions are the dispatcher's only access to other tenants' rows.
_CLAIM_COLUMNS = (
    column("delivery_id", UUID(as_uuid=True)),
    column("subscription_id", UUID(as_uuid=True)),
    column("tenant_id", UUID(as_uuid=True)),
    column("event_id", UUID(as_uuid=True)),
    column("event_type", String),
    column("occurred_at", DateTime(timezone=True)),
    column("correlation_id", UUID(as_uuid=True)),
    column("payload", JSONB),
    column("attempts", Integer),
    column("url", String),
    column("secret", String),
    column("previous_secret", String),
)


async def fan_out(session: AsyncSession, batch: int, now: datetime) -> int:
    taken = await session.scalar(
        select(func.engage_webhook_fan_out(literal(batch, Integer), literal(now, DateTime(timezone=True))))
    )
    return int(taken or 0)


async def purge_outbox(session: AsyncSession, before: datetime, batch: int) -> int:
    """Up to `batch` events older than `before`, fanned out and with no delivery pending, deleted with their
    deliveries (`engage_outbox_purge`, every tenant's). How many events went."""
    gone = await session.scalar(
        select(func.engage_outbox_purge(literal(before, DateTime(timezone=True)), literal(batch, Integer)))
    )
    return int(gone or 0)


async def claim(session: AsyncSession, batch: int, lease_seconds: float, now: datetime) -> list[ClaimedDelivery]:
    claimed = func.engage_webhook_claim(
        literal(batch, Integer), literal(lease_seconds, Float), literal(now, DateTime(timezone=True))
    ).table_valued(*_CLAIM_COLUMNS)
    rows = (await session.execute(select(*claimed.c))).all()
    leased_until = now + timedelta(seconds=lease_seconds)
    return [ClaimedDelivery(**row._mapping, leased_until=leased_until) for row in rows]


@dataclass(frozen=True, slots=True)
class Settlement:
    delivery_id: uuid.UUID
    result: AttemptResult
    attempted_at: datetime
    next_attempt_at: datetime | None


# One statement settles many attempts: the settle function once per row of the arrays.
_SETTLE_MANY = text(
    """
    SELECT engage_webhook_settle(s.delivery_id, s.succeeded, s.status_code, s.error, s.latency_ms,
                                 s.attempted_at, s.next_attempt_at)
    FROM unnest(CAST(:delivery_ids AS uuid[]), CAST(:succeeded AS boolean[]), CAST(:status_codes AS integer[]),
                CAST(:errors AS text[]), CAST(:latencies_ms AS integer[]), CAST(:attempted_at AS timestamptz[]),
                CAST(:next_attempt_at AS timestamptz[]))
      AS s(delivery_id, succeeded, status_code, error, latency_ms, attempted_at, next_attempt_at)
    """
)


async def settle(session: AsyncSession, settlements: Sequence[Settlement]) -> None:
    await session.execute(
        _SETTLE_MANY,
        {
            "delivery_ids": [s.delivery_id for s in settlements],
            "succeeded": [s.result.succeeded for s in settlements],
            "status_codes": [s.result.status_code for s in settlements],
            "errors": [s.result.error for s in settlements],
            "latencies_ms": [s.result.latency_ms for s in settlements],
            "attempted_at": [s.attempted_at for s in settlements],
            "next_attempt_at": [s.next_attempt_at for s in settlements],
        },
    )
