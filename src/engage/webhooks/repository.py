"""Every query on `webhook_subscriptions` and `webhook_deliveries` the API makes, inside a tenant-scoped
transaction: row-level security keeps each tenant to its own rows, so an id of another tenant reads as absent.
(The dispatcher's cross-tenant work goes through the SECURITY DEFINER functions, not through here.)"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.pagination import PageParams, PageResult, paginate

from .models import WebhookDelivery, WebhookSubscription


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
