"""GET /v1/webhooks/{id}/deliveries and POST .../deliveries/{delivery_id}/redeliver.

A subscription's deliveries, newest first, optionally of one status. Redelivery puts a succeeded or failed
delivery back in the queue: pending, due now, unleased, `attempts` back to 0 (the whole retry schedule again).
A pending delivery is already queued: 409. A delivery of another subscription or another tenant is a 404
`delivery-not-found`; another tenant's webhook a 404 `webhook-not-found`. Rows are written directly here (the
dispatcher, which makes them, is tested on its own)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.tenancy.models import Tenant

from ..problems import assert_problem, error_fields
from .conftest import CreateWebhook, WebhookDb

DELIVERY_KEYS = {
    "id",
    "event_id",
    "event_type",
    "occurred_at",
    "status",
    "attempts",
    "last_attempt_at",
    "last_status_code",
    "last_error",
    "last_latency_ms",
    "next_attempt_at",
    "delivered_at",
    "created_at",
}


def _deliveries(webhook_id: object) -> str:
    return f"/v1/webhooks/{webhook_id}/deliveries"


def _redeliver(webhook_id: object, delivery_id: object) -> str:
    return f"/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"


class TestListDeliveries:
    async def test_lists_the_subscriptions_deliveries_newest_first_with_their_last_attempt(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        created = await create_webhook(events=["dnc.added", "campaign.started"])
        webhook_id = uuid.UUID(created["id"])
        older = await webhook_db.add_delivery(tenant.id, webhook_id, clock=clock)
        clock.advance(60)
        attempted_at = clock.now()
        newer = await webhook_db.add_delivery(
            tenant.id,
            webhook_id,
            clock=clock,
            event_type="campaign.started",
            status="succeeded",
            attempts=2,
            next_attempt_at=None,
            last_attempt_at=attempted_at,
            last_status_code=204,
            last_latency_ms=87,
            delivered_at=attempted_at,
        )

        response = await client.get(_deliveries(webhook_id), headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["total"], body["has_more"], body["next_cursor"]) == (2, False, None)
        assert [item["id"] for item in body["items"]] == [str(newer.id), str(older.id)]
        assert body["items"][0] == {
            "id": str(newer.id),
            "event_id": str(newer.event_id),
            "event_type": "campaign.started",
            "occurred_at": "2026-06-12T10:01:00Z",
            "status": "succeeded",
            "attempts": 2,
            "last_attempt_at": "2026-06-12T10:01:00Z",
            "last_status_code": 204,
            "last_error": None,
            "last_latency_ms": 87,
            "next_attempt_at": None,
            "delivered_at": "2026-06-12T10:01:00Z",
            "created_at": "2026-06-12T10:01:00Z",
        }
        assert set(body["items"][1]) == DELIVERY_KEYS
        assert body["items"][1]["status"] == "pending"

    async def test_the_status_filter_keeps_only_that_status(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        webhook_id = uuid.UUID((await create_webhook())["id"])
        failed = await webhook_db.add_delivery(tenant.id, webhook_id, clock=clock, status="failed", attempts=5)
        await webhook_db.add_delivery(tenant.id, webhook_id, clock=clock, status="succeeded", attempts=1)
        await webhook_db.add_delivery(tenant.id, webhook_id, clock=clock)

        body = (await client.get(_deliveries(webhook_id), headers=headers, params={"status": "failed"})).json()

        assert [item["id"] for item in body["items"]] == [str(failed.id)]
        assert body["total"] == 1

    async def test_pages_follow_the_cursor(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        webhook_id = uuid.UUID((await create_webhook())["id"])
        ids = [str((await webhook_db.add_delivery(tenant.id, webhook_id, clock=clock)).id) for _ in range(3)]

        first = (await client.get(_deliveries(webhook_id), headers=headers, params={"limit": 2})).json()
        second = (
            await client.get(
                _deliveries(webhook_id), headers=headers, params={"limit": 2, "cursor": first["next_cursor"]}
            )
        ).json()

        assert [item["id"] for item in first["items"] + second["items"]] == ids[::-1]
        assert (first["has_more"], second["has_more"]) == (True, False)

    async def test_only_this_subscriptions_deliveries_are_listed(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        mine = uuid.UUID((await create_webhook())["id"])
        sibling = uuid.UUID((await create_webhook())["id"])
        await webhook_db.add_delivery(tenant.id, sibling, clock=clock)

        body = (await client.get(_deliveries(mine), headers=headers)).json()

        assert (body["items"], body["total"]) == ([], 0)

    @pytest.mark.parametrize(
        ("params", "field"), [({"status": "delivered"}, "status"), ({"limit": 0}, "limit"), ({"limit": 201}, "limit")]
    )
    async def test_an_invalid_filter_or_limit_is_400(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        create_webhook: CreateWebhook,
        params: dict[str, str | int],
        field: str,
    ) -> None:
        created = await create_webhook()

        response = await client.get(_deliveries(created["id"]), headers=headers, params=params)

        assert error_fields(assert_problem(response, 400, "validation-error")) == {field}

    async def test_a_garbled_cursor_is_400(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook
    ) -> None:
        created = await create_webhook()

        response = await client.get(_deliveries(created["id"]), headers=headers, params={"cursor": "nonsense"})

        assert_problem(response, 400, "invalid-cursor")

    async def test_an_unknown_webhook_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        assert_problem(await client.get(_deliveries(uuid.uuid4()), headers=headers), 404, "webhook-not-found")


class TestRedeliver:
    @pytest.mark.parametrize(
        ("status", "last_status_code", "last_error"), [("failed", 500, "HTTP 500"), ("succeeded", 200, None)]
    )
    async def test_a_finished_delivery_is_queued_again_due_now_with_the_full_schedule(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
        status: str,
        last_status_code: int,
        last_error: str | None,
    ) -> None:
        webhook_id = uuid.UUID((await create_webhook())["id"])
        delivery = await webhook_db.add_delivery(
            tenant.id,
            webhook_id,
            clock=clock,
            status=status,
            attempts=5,
            next_attempt_at=None,
            last_attempt_at=clock.now(),
            last_status_code=last_status_code,
            last_error=last_error,
            last_latency_ms=120,
            delivered_at=clock.now() if status == "succeeded" else None,
        )
        clock.advance(3 * 3600)

        response = await client.post(_redeliver(webhook_id, delivery.id), headers=headers)

        assert response.status_code == 202, response.text
        body = response.json()
        assert set(body) == DELIVERY_KEYS
        assert (body["id"], body["status"], body["attempts"]) == (str(delivery.id), "pending", 0)
        assert body["next_attempt_at"] == "2026-06-12T13:00:00Z"
        assert body["delivered_at"] is None
        # The last attempt stays on record until the next one replaces it.
        assert (body["last_status_code"], body["last_error"], body["last_attempt_at"]) == (
            last_status_code,
            last_error,
            "2026-06-12T10:00:00Z",
        )
        stored = await webhook_db.delivery(tenant.id, delivery.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.next_attempt_at, stored.leased_until) == (
            "pending",
            0,
            clock.now(),
            None,
        )

    async def test_a_stale_lease_is_cleared(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        webhook_id = uuid.UUID((await create_webhook())["id"])
        delivery = await webhook_db.add_delivery(
            tenant.id,
            webhook_id,
            clock=clock,
            status="failed",
            attempts=5,
            next_attempt_at=None,
            leased_until=clock.now() + timedelta(minutes=1),
        )

        await client.post(_redeliver(webhook_id, delivery.id), headers=headers)

        stored = await webhook_db.delivery(tenant.id, delivery.id)
        assert stored is not None
        assert stored.leased_until is None

    async def test_a_pending_delivery_is_409_and_unchanged(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        webhook_id = uuid.UUID((await create_webhook())["id"])
        retry_at = clock.now() + timedelta(minutes=5)
        delivery = await webhook_db.add_delivery(
            tenant.id, webhook_id, clock=clock, attempts=2, next_attempt_at=retry_at
        )

        response = await client.post(_redeliver(webhook_id, delivery.id), headers=headers)

        body = assert_problem(response, 409, "delivery-pending")
        assert body["next_attempt_at"] == "2026-06-12T10:05:00Z"
        stored = await webhook_db.delivery(tenant.id, delivery.id)
        assert stored is not None
        assert (stored.attempts, stored.next_attempt_at) == (2, retry_at)

    async def test_a_delivery_of_another_subscription_is_404_and_unchanged(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        mine = uuid.UUID((await create_webhook())["id"])
        sibling = uuid.UUID((await create_webhook())["id"])
        delivery = await webhook_db.add_delivery(tenant.id, sibling, clock=clock, status="failed", attempts=5)

        response = await client.post(_redeliver(mine, delivery.id), headers=headers)

        assert_problem(response, 404, "delivery-not-found")
        stored = await webhook_db.delivery(tenant.id, delivery.id)
        assert stored is not None
        assert (stored.status, stored.attempts) == ("failed", 5)

    async def test_another_tenants_delivery_under_my_webhook_is_404_and_unchanged(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        other_tenant: Tenant,
        other_headers: dict[str, str],
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        mine = uuid.UUID((await create_webhook())["id"])
        theirs = uuid.UUID((await create_webhook(as_=other_headers))["id"])
        delivery = await webhook_db.add_delivery(other_tenant.id, theirs, clock=clock, status="failed", attempts=5)

        response = await client.post(_redeliver(mine, delivery.id), headers=headers)

        assert_problem(response, 404, "delivery-not-found")
        stored = await webhook_db.delivery(other_tenant.id, delivery.id)
        assert stored is not None
        assert (stored.status, stored.attempts) == ("failed", 5)

    async def test_an_unknown_delivery_is_404(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook
    ) -> None:
        created = await create_webhook()

        response = await client.post(_redeliver(created["id"], uuid.uuid4()), headers=headers)

        assert_problem(response, 404, "delivery-not-found")

    async def test_an_unknown_webhook_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.post(_redeliver(uuid.uuid4(), uuid.uuid4()), headers=headers)

        assert_problem(response, 404, "webhook-not-found")
