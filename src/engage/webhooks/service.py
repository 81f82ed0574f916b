"""Webhook subscription use cases: create, read, list, update, delete, rotate the secret; a subscription's
deliveries and their redelivery; and the test ping. Flushes, never commits: the caller's transaction decides.

Invariants:
- a subscription's URL passed the SSRF check (`targets.parse_target` then `targets.resolve`, every address
  public unless `allow_private`) when it was saved; the sender checks again at connect time;
- its `events` are non-empty, unique and from the catalogue (the schemas enforce it);
- a tenant has at most `MAX_SUBSCRIPTIONS_PER_TENANT` subscriptions;
- the secret leaves the service only in the return of `create` and `rotate_secret`;
- a redelivered delivery is pending, due now, unleased and untried (`attempts` 0: the full retry schedule
  applies again, as for a new delivery).
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.clock import Clock, isoformat_z
from engage.core.ids import new_id
from engage.core.pagination import PageParams, PageResult

from . import repository, targets
from .errors import DeliveryNotFound, DeliveryPending, UnsafeWebhookUrl, WebhookLimitReached, WebhookNotFound
from .models import WebhookDelivery, WebhookSubscription
from .schemas import DeliveryStatus, WebhookCreate, WebhookUpdate
from .sender import AttemptResult, send_once

log = structlog.get_logger("engage.webhooks")

SECRET_PREFIX = "whsec_"  # noqa: S105 - a public prefix, not a secret
# 32 random bytes (256 bits), as much as the HMAC-SHA256 key needs; the prefix makes a leaked one recognisable
# to secret scanners.
SECRET_BYTES = 32
# How long a rotated-out secret still signs requests: a day lets a receiver deploy the new secret at leisure.
ROTATION_GRACE = timedelta(hours=24)
# Each active subscription multiplies every event into one more delivery; 20 covers a tenant's integrations
# with room to spare while keeping one tenant's fan-out bounded.
MAX_SUBSCRIPTIONS_PER_TENANT = 20
# The envelope's version: `schema_version` of the seed's payload structure.
SCHEMA_VERSION = "1"
PING_EVENT_TYPE = "ping"


@dataclass(frozen=True, slots=True)
class Created:
    subscription: WebhookSubscription
    secret: str


@dataclass(frozen=True, slots=True)
class Rotated:
    secret: str
    previous_secret_expires_at: datetime


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


async def _safe_url(url: str, *, allow_private: bool) -> str:
    """The URL if it may receive webhooks, else the 422 saying why (no connection is made, only DNS)."""
    try:
        target = targets.parse_target(url, allow_private=allow_private)
        await targets.resolve(target, allow_private=allow_private)
    except targets.UnsafeTarget as exc:
        raise UnsafeWebhookUrl(str(exc), extra={"reason": str(exc)}) from exc
    return url


async def _get(session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False) -> WebhookSubscription:
    subscription = await repository.get(session, subscription_id, for_update=for_update)
    if subscription is None:
        raise WebhookNotFound(f"No webhook {subscription_id} in your organisation.")
    return subscription


async def create(
    session: AsyncSession, tenant_id: uuid.UUID, data: WebhookCreate, *, clock: Clock, allow_private: bool
) -> Created:
    """POST /v1/webhooks. The URL is checked (DNS included) before anything is locked or written."""
    url = await _safe_url(data.url, allow_private=allow_private)
    await repository.lock_tenant_subscriptions(session, tenant_id)
    if await repository.count(session) >= MAX_SUBSCRIPTIONS_PER_TENANT:
        raise WebhookLimitReached(
            f"Your organisation already has {MAX_SUBSCRIPTIONS_PER_TENANT} webhooks, the most allowed; "
            "delete one or add event types to an existing one.",
            extra={"limit": MAX_SUBSCRIPTIONS_PER_TENANT},
        )
    now = clock.now()
    secret = data.secret if data.secret is not None else _new_secret()
    subscription = await repository.add(
        session,
        WebhookSubscription(
            id=new_id(),
            tenant_id=tenant_id,
            url=url,
            events=[event.value for event in data.events],
            description=data.description,
            secret=secret,
            previous_secret=None,
            previous_secret_expires_at=None,
            is_active=True,
            created_at=now,
            updated_at=now,
        ),
    )
    # No URL in the logs: a receiver's URL often carries its own token in the query string.
    log.info("webhooks.created", tenant_id=str(tenant_id), webhook_id=str(subscription.id), events=subscription.events)
    return Created(subscription=subscription, secret=secret)


async def get(session: AsyncSession, subscription_id: uuid.UUID) -> WebhookSubscription:
    return await _get(session, subscription_id)


async def list_subscriptions(session: AsyncSession, params: PageParams) -> PageResult[WebhookSubscription]:
    return await repository.list_subscriptions(session, params)


async def update(
    session: AsyncSession, subscription_id: uuid.UUID, data: WebhookUpdate, *, clock: Clock, allow_private: bool
) -> WebhookSubscription:
    """PATCH /v1/webhooks/{id}: the fields sent, validated as on creation. An unknown id is a 404 whatever the
    body; a new URL is checked before the row is locked, so a slow DNS answer holds no lock."""
    sent = data.model_fields_set
    await _get(session, subscription_id)
    url = await _safe_url(data.url, allow_private=allow_private) if data.url is not None else None
    subscription = await _get(session, subscription_id, for_update=True)
    if url is not None:
        subscription.url = url
    if data.events is not None:
        subscription.events = [event.value for event in data.events]
    if "description" in sent:
        subscription.description = data.description
    if data.is_active is not None:
        subscription.is_active = data.is_active
    subscription.updated_at = clock.now()
    await repository.flush(session)
    log.info("webhooks.updated", tenant_id=str(subscription.tenant_id), webhook_id=str(subscription.id))
    return subscription


async def delete(session: AsyncSession, tenant_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
    """DELETE /v1/webhooks/{id}, its deliveries with it (pending ones are never sent)."""
    if not await repository.remove(session, subscription_id):
        raise WebhookNotFound(f"No webhook {subscription_id} in your organisation.")
    log.info("webhooks.deleted", tenant_id=str(tenant_id), webhook_id=str(subscription_id))


async def rotate_secret(session: AsyncSession, subscription_id: uuid.UUID, *, clock: Clock) -> Rotated:
    """POST /v1/webhooks/{id}/rotate-secret. The current secret becomes the previous one, still signing for
    `ROTATION_GRACE`; only one previous secret is kept, so rotating again within the grace period ends the
    older one at once."""
    subscription = await _get(session, subscription_id, for_update=True)
    now = clock.now()
    secret = _new_secret()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = now + ROTATION_GRACE
    subscription.secret = secret
    subscription.updated_at = now
    await repository.flush(session)
    log.info("webhooks.secret_rotated", tenant_id=str(subscription.tenant_id), webhook_id=str(subscription.id))
    return Rotated(secret=secret, previous_secret_expires_at=subscription.previous_secret_expires_at)


async def list_deliveries(
    session: AsyncSession, subscription_id: uuid.UUID, params: PageParams, *, status: DeliveryStatus | None = None
) -> PageResult[WebhookDelivery]:
    await _get(session, subscription_id)
    return await repository.list_deliveries(
        session, subscription_id, params, status=status.value if status is not None else None
    )


async def redeliver(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, *, clock: Clock
) -> WebhookDelivery:
    """POST .../deliveries/{id}/redeliver: a succeeded or failed delivery goes back in the queue, due now.
    `attempts` restarts at 0 so the whole retry schedule applies again (a receiver that was down for a day
    gets the same five chances as for a new event); the last attempt's outcome stays visible until the next
    one replaces it. A pending delivery is already queued (or in flight): 409."""
    await _get(session, subscription_id)
    delivery = await repository.get_delivery(session, subscription_id, delivery_id, for_update=True)
    if delivery is None:
        raise DeliveryNotFound(f"No delivery {delivery_id} for webhook {subscription_id}.")
    if delivery.status == DeliveryStatus.pending.value:
        raise DeliveryPending(
            f"Delivery {delivery_id} is still pending; it will be sent (or retried) without being asked.",
            extra={"next_attempt_at": isoformat_z(delivery.next_attempt_at) if delivery.next_attempt_at else None},
        )
    delivery.status = DeliveryStatus.pending.value
    delivery.attempts = 0
    delivery.next_attempt_at = clock.now()
    delivery.leased_until = None
    delivery.delivered_at = None
    await repository.flush(session)
    log.info(
        "webhooks.redelivery_queued",
        tenant_id=str(delivery.tenant_id),
        webhook_id=str(subscription_id),
        delivery_id=str(delivery.id),
    )
    return delivery


def ping_body(subscription: WebhookSubscription, *, event_id: uuid.UUID, occurred_at: datetime) -> bytes:
    """The test ping: the envelope every event has, `event_type: "ping"`, serialised compactly (the bytes
    signed are the bytes sent)."""
    envelope = {
        "event_id": str(event_id),
        "event_type": PING_EVENT_TYPE,
        "tenant_id": str(subscription.tenant_id),
        "occurred_at": isoformat_z(occurred_at),
        "correlation_id": None,
        "schema_version": SCHEMA_VERSION,
        "payload": {"webhook_id": str(subscription.id)},
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def signing_secrets(subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The secrets in force: the current one first, then the previous one during its grace period."""
    in_force = [subscription.secret]
    expires_at = subscription.previous_secret_expires_at
    if subscription.previous_secret is not None and expires_at is not None and expires_at > now:
        in_force.append(subscription.previous_secret)
    return in_force


async def send_test(
    session: AsyncSession, subscription_id: uuid.UUID, *, clock: Clock, allow_private: bool
) -> AttemptResult:
    """POST /v1/webhooks/{id}/test: one signed ping now, no retry, not stored as a delivery. Works for an
    inactive subscription too (testing a receiver before switching it on). The sender re-checks the address
    it connects to, so a URL that has since started resolving to a private address is refused."""
    subscription = await _get(session, subscription_id)
    now = clock.now()
    event_id = new_id()
    result = await send_once(
        subscription.url,
        ping_body(subscription, event_id=event_id, occurred_at=now),
        signing_secrets(subscription, now),
        event_id=str(event_id),
        allow_private=allow_private,
        clock=clock,
    )
    log.info(
        "webhooks.ping_sent",
        tenant_id=str(subscription.tenant_id),
        webhook_id=str(subscription.id),
        delivered=result.succeeded,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
    )
    return result
