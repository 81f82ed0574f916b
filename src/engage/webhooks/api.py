"""Routes: /v1/webhooks (admin only: a webhook sends the tenant's events to an outside URL)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.openapi import links
from engage.core.pagination import Page, PageParams, page_params
from engage.core.principal import Permission, Principal

from . import service
from .schemas import (
    DeliveryRead,
    DeliveryStatus,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookTestResult,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])

WebhooksManager = Annotated[Principal, Depends(require(Permission.webhooks_manage))]
WebhookPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]
DeliveryPage = Annotated[PageParams, Depends(page_params(default=50, maximum=200))]


@router.post(
    "/webhooks",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create a webhook",
    responses=links(
        201,
        **{
            name: {"webhook_id": "$response.body#/id"}
            for name in (
                "get_webhook",
                "update_webhook",
                "delete_webhook",
                "rotate_webhook_secret",
                "list_webhook_deliveries",
            )
        },
    ),
)
async def create_webhook(
    principal: WebhooksManager, session: SessionDep, runtime: RuntimeDep, body: WebhookCreate
) -> WebhookCreated:
    created = await service.create(
        session,
        principal.tenant_id,
        body,
        clock=runtime.clock,
        allow_private=runtime.settings.webhook.allow_private_targets,
    )
    read = WebhookRead.model_validate(created.subscription)
    return WebhookCreated(**read.model_dump(), secret=created.secret)


@router.get("/webhooks", response_model=Page[WebhookRead], summary="List webhooks")
async def list_webhooks(principal: WebhooksManager, session: SessionDep, page: WebhookPage) -> Page[WebhookRead]:
    return (await service.list_subscriptions(session, page)).map(WebhookRead.model_validate)


@router.get("/webhooks/{webhook_id}", response_model=WebhookRead, summary="Get a webhook")
async def get_webhook(principal: WebhooksManager, session: SessionDep, webhook_id: uuid.UUID) -> WebhookRead:
    return WebhookRead.model_validate(await service.get(session, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookRead, summary="Update a webhook")
async def update_webhook(
    principal: WebhooksManager, session: SessionDep, runtime: RuntimeDep, webhook_id: uuid.UUID, body: WebhookUpdate
) -> WebhookRead:
    subscription = await service.update(
        session,
        webhook_id,
        body,
        clock=runtime.clock,
        allow_private=runtime.settings.webhook.allow_private_targets,
    )
    return WebhookRead.model_validate(subscription)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a webhook and its deliveries",
)
async def delete_webhook(principal: WebhooksManager, session: SessionDep, webhook_id: uuid.UUID) -> Response:
    await service.delete(session, principal.tenant_id, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=SecretRotated, summary="Rotate a webhook's secret")
async def rotate_webhook_secret(
    principal: WebhooksManager, session: SessionDep, runtime: RuntimeDep, webhook_id: uuid.UUID
) -> SecretRotated:
    rotated = await service.rotate_secret(session, webhook_id, clock=runtime.clock)
    return SecretRotated(secret=rotated.secret, previous_secret_expires_at=rotated.previous_secret_expires_at)


@router.get(
    "/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryRead], summary="List a webhook's deliveries"
)
async def list_webhook_deliveries(
    principal: WebhooksManager,
    session: SessionDep,
    webhook_id: uuid.UUID,
    page: DeliveryPage,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status", description="Only this status")] = None,
) -> Page[DeliveryRead]:
    result = await service.list_deliveries(session, webhook_id, page, status=delivery_status)
    return result.map(DeliveryRead.model_validate)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again",
)
async def redeliver_webhook_delivery(
    principal: WebhooksManager, session: SessionDep, runtime: RuntimeDep, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryRead:
    delivery = await service.redeliver(session, webhook_id, delivery_id, clock=runtime.clock)
    return DeliveryRead.model_validate(delivery)


@router.post("/webhooks/{webhook_id}/test", response_model=WebhookTestResult, summary="Send a signed ping now")
async def test_webhook(
    principal: WebhooksManager, session: SessionDep, runtime: RuntimeDep, webhook_id: uuid.UUID
) -> WebhookTestResult:
    # The request's transaction stays open while the ping is in flight (at most the sender's 10 s timeout):
    # an admin-only call, rare enough that holding one pooled connection for it is cheaper than a second edge.
    result = await service.send_test(
        session, webhook_id, clock=runtime.clock, allow_private=runtime.settings.webhook.allow_private_targets
    )
    return WebhookTestResult(
        delivered=result.succeeded, status_code=result.status_code, latency_ms=result.latency_ms, error=result.error
    )
