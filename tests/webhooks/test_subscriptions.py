"""POST/GET/PATCH/DELETE /v1/webhooks: admins manage their tenant's subscriptions. The secret is returned on
creation only; events are non-empty, unique and from the seed's catalogue; at most 20 subscriptions per tenant;
supervisors and agents get 403 on every route; another tenant's id is a 404 on every route that takes one; a
refused request writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.tenancy.models import Tenant

from ..problems import assert_problem, error_fields
from .conftest import PUBLIC_URL, CreateWebhook, WebhookDb

CATALOGUE = [
    "call.initiated",
    "call.answered",
    "call.completed",
    "call.abandoned",
    "call.compliance_blocked",
    "agent.state_changed",
    "campaign.started",
    "campaign.paused",
    "campaign.completed",
    "dnc.added",
    "dnc.removed",
]
READ_KEYS = {"id", "url", "events", "description", "is_active", "created_at", "updated_at"}


class TestCreate:
    async def test_creating_is_201_with_the_subscription_and_its_secret_shown_once(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, webhook_db: WebhookDb
    ) -> None:
        response = await client.post(
            "/v1/webhooks",
            headers=headers,
            json={"url": PUBLIC_URL, "events": ["call.completed", "dnc.added"], "description": "CRM sync"},
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == READ_KEYS | {"secret"}
        assert body["url"] == PUBLIC_URL
        assert body["events"] == ["call.completed", "dnc.added"]
        assert body["description"] == "CRM sync"
        assert body["is_active"] is True
        assert body["created_at"] == body["updated_at"] == "2026-06-12T10:00:00Z"
        assert body["secret"].startswith("whsec_")
        assert len(body["secret"]) == len("whsec_") + 43  # token_urlsafe(32): 32 bytes, 43 base64url characters
        stored = await webhook_db.subscription(tenant.id, uuid.UUID(body["id"]))
        assert stored is not None
        assert stored.secret == body["secret"]
        assert stored.previous_secret is None

    @pytest.mark.parametrize("secret", ["k" * 32, "whsec_" + "Zx9-_~!" * 8, "s" * 128])
    async def test_a_caller_supplied_secret_is_kept_and_shown_once(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, webhook_db: WebhookDb, secret: str
    ) -> None:
        response = await client.post(
            "/v1/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": ["dnc.added"], "secret": secret}
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["secret"] == secret
        stored = await webhook_db.subscription(tenant.id, uuid.UUID(body["id"]))
        assert stored is not None
        assert stored.secret == secret
        read = await client.get(f"/v1/webhooks/{body['id']}", headers=headers)
        assert "secret" not in read.json()

    async def test_a_refused_secret_is_not_echoed_in_the_problem(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        secret = "TopSecret-" + "x" * 10  # too short
        response = await client.post(
            "/v1/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": ["dnc.added"], "secret": secret}
        )

        assert_problem(response, 400, "validation-error")
        assert "TopSecret" not in response.text

    async def test_every_event_type_of_the_catalogue_may_be_subscribed_to(self, create_webhook: CreateWebhook) -> None:
        created = await create_webhook(events=CATALOGUE)

        assert created["events"] == CATALOGUE

    async def test_the_description_is_optional(self, create_webhook: CreateWebhook) -> None:
        created = await create_webhook()

        assert created["description"] is None

    async def test_each_subscription_gets_its_own_secret(self, create_webhook: CreateWebhook) -> None:
        first = await create_webhook()
        second = await create_webhook()

        assert first["secret"] != second["secret"]

    async def test_the_twentieth_subscription_is_accepted_and_the_twenty_first_is_409(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
    ) -> None:
        for _ in range(20):
            await create_webhook()

        response = await client.post("/v1/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": ["dnc.added"]})

        body = assert_problem(response, 409, "webhook-limit-reached")
        assert body["limit"] == 20
        assert len(await webhook_db.subscriptions(tenant.id)) == 20

    async def test_the_limit_counts_only_the_callers_tenant(
        self, create_webhook: CreateWebhook, other_headers: dict[str, str]
    ) -> None:
        for _ in range(20):
            await create_webhook(as_=other_headers)

        await create_webhook()


class TestCreateRefused:
    @pytest.mark.parametrize(
        ("events", "message"),
        [
            ([], "at least one"),
            (["call.completed", "call.completed"], "only once"),
            (["call.completed", "call.transferred"], "call.transferred"),
            (["ping"], "ping"),
            ("call.completed", "list"),
            ([1], "unknown"),
        ],
    )
    async def test_events_must_be_a_non_empty_list_of_distinct_catalogue_types(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        webhook_db: WebhookDb,
        events: Any,
        message: str,
    ) -> None:
        response = await client.post("/v1/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": events})

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {"events"}
        assert message in body["detail"]
        assert await webhook_db.subscriptions(tenant.id) == []

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"events": ["dnc.added"]}, "url"),
            ({"url": PUBLIC_URL}, "events"),
            ({"url": "", "events": ["dnc.added"]}, "url"),
            ({"url": PUBLIC_URL + "x" * 2048, "events": ["dnc.added"]}, "url"),
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "description": "d" * 501}, "description"),
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "secret": "whsec_mine"}, "secret"),  # too short
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "secret": "s" * 31}, "secret"),
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "secret": "s" * 129}, "secret"),
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "secret": "s" * 20 + " " + "s" * 20}, "secret"),
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "secret": "s" * 40 + "\u0000"}, "secret"),
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "secret": "s" * 40 + "é"}, "secret"),
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "secret": 12345678901234567890123456789012345}, "secret"),
            ({"url": PUBLIC_URL, "events": ["dnc.added"], "is_active": False}, "is_active"),
        ],
    )
    async def test_a_missing_oversized_or_unknown_field_is_400_naming_it(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        webhook_db: WebhookDb,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post("/v1/webhooks", headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert field in error_fields(problem)
        assert await webhook_db.subscriptions(tenant.id) == []

    async def test_a_tenant_id_in_the_body_is_422(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, webhook_db: WebhookDb
    ) -> None:
        response = await client.post(
            "/v1/webhooks",
            headers=headers,
            json={"url": PUBLIC_URL, "events": ["dnc.added"], "tenant_id": str(tenant.id)},
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await webhook_db.subscriptions(tenant.id) == []


class TestList:
    async def test_lists_the_tenants_subscriptions_newest_first_without_secrets(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook, clock: ManualClock
    ) -> None:
        first = await create_webhook(description="first")
        clock.advance(60)
        second = await create_webhook(description="second", events=["agent.state_changed"])

        response = await client.get("/v1/webhooks", headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 2
        assert body["has_more"] is False
        assert body["next_cursor"] is None
        assert [item["id"] for item in body["items"]] == [second["id"], first["id"]]
        assert body["items"][0] == {key: second[key] for key in READ_KEYS}
        assert all("secret" not in item for item in body["items"])

    async def test_pages_follow_the_cursor(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook
    ) -> None:
        ids = [(await create_webhook())["id"] for _ in range(3)]

        first = (await client.get("/v1/webhooks", headers=headers, params={"limit": 2})).json()
        second = (
            await client.get("/v1/webhooks", headers=headers, params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()

        assert [item["id"] for item in first["items"]] == [ids[2], ids[1]]
        assert first["has_more"] is True
        assert [item["id"] for item in second["items"]] == [ids[0]]
        assert second["has_more"] is False
        assert first["total"] == second["total"] == 3

    async def test_another_tenants_subscriptions_are_not_listed(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        other_headers: dict[str, str],
        create_webhook: CreateWebhook,
    ) -> None:
        await create_webhook(as_=other_headers)

        body = (await client.get("/v1/webhooks", headers=headers)).json()

        assert body == {"items": [], "total": 0, "next_cursor": None, "has_more": False}

    async def test_a_limit_above_200_is_400(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/webhooks", headers=headers, params={"limit": 201})

        assert error_fields(assert_problem(response, 400, "validation-error")) == {"limit"}


class TestGet:
    async def test_reads_one_subscription_without_its_secret(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook
    ) -> None:
        created = await create_webhook(description="CRM")

        response = await client.get(f"/v1/webhooks/{created['id']}", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {key: created[key] for key in READ_KEYS}

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get(f"/v1/webhooks/{uuid.uuid4()}", headers=headers)

        assert_problem(response, 404, "webhook-not-found")

    async def test_a_malformed_id_is_400(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/webhooks/not-a-uuid", headers=headers)

        assert error_fields(assert_problem(response, 400, "validation-error")) == {"webhook_id"}


class TestUpdate:
    async def test_only_the_fields_sent_change_and_updated_at_moves(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        created = await create_webhook(description="CRM", events=["dnc.added"])
        clock.advance(90)

        response = await client.patch(
            f"/v1/webhooks/{created['id']}",
            headers=headers,
            json={"events": ["campaign.started", "campaign.completed"], "is_active": False},
        )

        assert response.status_code == 200, response.text
        assert response.json() == {key: created[key] for key in READ_KEYS} | {
            "events": ["campaign.started", "campaign.completed"],
            "is_active": False,
            "updated_at": "2026-06-12T10:01:30Z",
        }
        stored = await webhook_db.subscription(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert stored.secret == created["secret"]

    async def test_a_new_url_is_saved(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook
    ) -> None:
        created = await create_webhook()

        response = await client.patch(
            f"/v1/webhooks/{created['id']}", headers=headers, json={"url": "https://1.1.1.1:8443/in"}
        )

        assert response.status_code == 200, response.text
        assert response.json()["url"] == "https://1.1.1.1:8443/in"

    async def test_a_null_description_clears_it(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook
    ) -> None:
        created = await create_webhook(description="CRM")

        response = await client.patch(f"/v1/webhooks/{created['id']}", headers=headers, json={"description": None})

        assert response.json()["description"] is None

    async def test_an_empty_body_changes_nothing_but_updated_at(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook, clock: ManualClock
    ) -> None:
        created = await create_webhook(description="CRM")
        clock.advance(1)

        response = await client.patch(f"/v1/webhooks/{created['id']}", headers=headers, json={})

        assert response.json() == {key: created[key] for key in READ_KEYS} | {"updated_at": "2026-06-12T10:00:01Z"}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"events": []}, "events"),
            ({"events": ["dnc.added", "dnc.added"]}, "events"),
            ({"events": ["dnc.purged"]}, "events"),
            ({"events": None}, "events"),
            ({"url": None}, "url"),
            ({"is_active": None}, "is_active"),
            ({"is_active": "maybe"}, "is_active"),
            ({"secret": "whsec_mine"}, "secret"),
        ],
    )
    async def test_an_invalid_field_is_400_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        body: dict[str, Any],
        field: str,
    ) -> None:
        created = await create_webhook(description="CRM")

        response = await client.patch(f"/v1/webhooks/{created['id']}", headers=headers, json=body)

        assert field in error_fields(assert_problem(response, 400, "validation-error"))
        stored = await webhook_db.subscription(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert (stored.url, stored.events, stored.is_active, stored.secret) == (
            created["url"],
            created["events"],
            True,
            created["secret"],
        )

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.patch(f"/v1/webhooks/{uuid.uuid4()}", headers=headers, json={"is_active": False})

        assert_problem(response, 404, "webhook-not-found")


class TestDelete:
    async def test_deleting_is_204_and_the_subscription_is_gone_with_its_deliveries(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        created = await create_webhook()
        kept = await create_webhook()
        await webhook_db.add_delivery(tenant.id, uuid.UUID(created["id"]), clock=clock, status="failed")
        await webhook_db.add_delivery(tenant.id, uuid.UUID(kept["id"]), clock=clock)

        response = await client.delete(f"/v1/webhooks/{created['id']}", headers=headers)

        assert response.status_code == 204, response.text
        assert response.content == b""
        assert_problem(await client.get(f"/v1/webhooks/{created['id']}", headers=headers), 404, "webhook-not-found")
        assert [s.id for s in await webhook_db.subscriptions(tenant.id)] == [uuid.UUID(kept["id"])]
        assert await webhook_db.delivery_count(tenant.id) == 1

    async def test_deleting_twice_is_404_the_second_time(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook
    ) -> None:
        created = await create_webhook()
        await client.delete(f"/v1/webhooks/{created['id']}", headers=headers)

        response = await client.delete(f"/v1/webhooks/{created['id']}", headers=headers)

        assert_problem(response, 404, "webhook-not-found")


# Every route that takes a webhook id, with a body it would accept.
ID_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/webhooks/{id}", None),
    ("PATCH", "/v1/webhooks/{id}", {"is_active": False, "url": "https://1.1.1.1/x"}),
    ("DELETE", "/v1/webhooks/{id}", None),
    ("POST", "/v1/webhooks/{id}/rotate-secret", None),
    ("GET", "/v1/webhooks/{id}/deliveries", None),
    ("POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", None),
    ("POST", "/v1/webhooks/{id}/test", None),
]


class TestTenantIsolation:
    @pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES)
    async def test_another_tenants_webhook_is_404_and_stays_as_it_was(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        other_tenant: Tenant,
        other_headers: dict[str, str],
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        theirs = await create_webhook(as_=other_headers)
        delivery = await webhook_db.add_delivery(
            other_tenant.id, uuid.UUID(theirs["id"]), clock=clock, status="failed", attempts=5, next_attempt_at=None
        )
        clock.advance(60)

        response = await client.request(
            method, path.format(id=theirs["id"], delivery_id=delivery.id), headers=headers, json=body
        )

        assert_problem(response, 404, "webhook-not-found")
        stored = await webhook_db.subscription(other_tenant.id, uuid.UUID(theirs["id"]))
        assert stored is not None
        assert (stored.url, stored.is_active, stored.secret, stored.previous_secret) == (
            theirs["url"],
            True,
            theirs["secret"],
            None,
        )
        after = await webhook_db.delivery(other_tenant.id, delivery.id)
        assert after is not None
        assert (after.status, after.attempts) == ("failed", 5)


class TestRoles:
    @pytest.mark.parametrize("role", ["supervisor", "agent"])
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", "/v1/webhooks", {"url": PUBLIC_URL, "events": ["dnc.added"]}),
            ("GET", "/v1/webhooks", None),
            *ID_ROUTES,
        ],
    )
    async def test_only_admins_manage_webhooks(
        self,
        client: httpx.AsyncClient,
        supervisor_headers: dict[str, str],
        agent_headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
        role: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        role_headers = {"supervisor": supervisor_headers, "agent": agent_headers}[role]
        created = await create_webhook()
        delivery = await webhook_db.add_delivery(tenant.id, uuid.UUID(created["id"]), clock=clock, status="failed")

        response = await client.request(
            method, path.format(id=created["id"], delivery_id=delivery.id), headers=role_headers, json=body
        )

        assert_problem(response, 403, "forbidden")
        subscriptions = await webhook_db.subscriptions(tenant.id)
        assert [(s.id, s.is_active, s.secret) for s in subscriptions] == [
            (uuid.UUID(created["id"]), True, created["secret"])
        ]
        after = await webhook_db.delivery(tenant.id, delivery.id)
        assert after is not None
        assert after.status == "failed"

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/webhooks"), 401, "unauthorized")
