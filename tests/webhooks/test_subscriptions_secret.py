"""POST /v1/webhooks/{id}/rotate-secret and POST /v1/webhooks/{id}/test.

Rotation: a new secret, returned once; the old one kept as the previous secret for 24 hours (requests are signed
with both meanwhile). The test ping: one signed `ping` envelope POSTed now to the subscription's URL, through the
same sender as deliveries (so the same SSRF checks), its outcome reported and nothing stored. The ping goes to a
real HTTP server on loopback, and its signature is checked with the seed's own verification snippet."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime

import httpx

from engage.core.clock import ManualClock
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .conftest import CreateWebhook, Receiver, WebhookDb
from .seed_snippet import verify_webhook


def _verify_timestamped(timestamp: str, body: bytes, signature: str, secret: str) -> bool:
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", signature)


class TestRotateSecret:
    async def test_rotating_returns_a_new_secret_and_keeps_the_old_one_for_24_hours(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        clock: ManualClock,
    ) -> None:
        created = await create_webhook()
        clock.advance(3600)

        response = await client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"secret", "previous_secret_expires_at"}
        assert body["secret"].startswith("whsec_")
        assert body["secret"] != created["secret"]
        assert body["previous_secret_expires_at"] == "2026-06-13T11:00:00Z"
        stored = await webhook_db.subscription(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert (stored.secret, stored.previous_secret) == (body["secret"], created["secret"])
        assert stored.previous_secret_expires_at == datetime.fromisoformat("2026-06-13T11:00:00+00:00")
        assert stored.updated_at == clock.now()

    async def test_the_secret_is_not_shown_by_reads_after_rotation(
        self, client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook
    ) -> None:
        created = await create_webhook()
        await client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=headers)

        read = (await client.get(f"/v1/webhooks/{created['id']}", headers=headers)).json()

        assert "secret" not in read
        assert "previous_secret" not in read

    async def test_rotating_again_keeps_only_the_secret_it_replaces(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
    ) -> None:
        created = await create_webhook()
        first = (await client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=headers)).json()
        second = (await client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=headers)).json()

        stored = await webhook_db.subscription(tenant.id, uuid.UUID(created["id"]))

        assert stored is not None
        assert (stored.secret, stored.previous_secret) == (second["secret"], first["secret"])

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.post(f"/v1/webhooks/{uuid.uuid4()}/rotate-secret", headers=headers)

        assert_problem(response, 404, "webhook-not-found")


class TestPing:
    async def test_the_ping_is_a_signed_envelope_the_seeds_snippet_verifies(
        self,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        receiver: Receiver,
        webhook_db: WebhookDb,
    ) -> None:
        created = await create_webhook(via=private_client, url=receiver.url, events=["campaign.started"])

        response = await private_client.post(f"/v1/webhooks/{created['id']}/test", headers=headers)

        assert response.status_code == 200, response.text
        result = response.json()
        assert set(result) == {"delivered", "status_code", "latency_ms", "error"}
        assert (result["delivered"], result["status_code"], result["error"]) == (True, 200, None)
        assert isinstance(result["latency_ms"], int)
        assert result["latency_ms"] >= 0
        (request,) = receiver.received
        assert (request.method, request.path) == ("POST", "/hooks")
        assert request.headers["content-type"] == "application/json"
        envelope = json.loads(request.body)
        assert envelope == {
            "event_id": envelope["event_id"],
            "event_type": "ping",
            "tenant_id": str(tenant.id),
            "occurred_at": "2026-06-12T10:00:00Z",
            "correlation_id": None,
            "schema_version": "1",
            "payload": {"webhook_id": created["id"]},
        }
        assert uuid.UUID(envelope["event_id"]).version == 7
        assert request.body == json.dumps(envelope, separators=(",", ":")).encode()
        assert request.headers["x-broadnet-event-id"] == envelope["event_id"]
        assert verify_webhook(request.body, request.headers["x-broadnet-signature"], created["secret"])
        assert request.headers["x-broadnet-timestamp"] == str(
            int(datetime.fromisoformat("2026-06-12T10:00:00+00:00").timestamp())
        )
        assert _verify_timestamped(
            request.headers["x-broadnet-timestamp"],
            request.body,
            request.headers["x-broadnet-signature-timestamped"],
            created["secret"],
        )
        # A ping is not an event: no delivery row is kept for it.
        assert await webhook_db.delivery_count(tenant.id) == 0

    async def test_each_ping_has_its_own_event_id(
        self,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        create_webhook: CreateWebhook,
        receiver: Receiver,
    ) -> None:
        created = await create_webhook(via=private_client, url=receiver.url)

        await private_client.post(f"/v1/webhooks/{created['id']}/test", headers=headers)
        await private_client.post(f"/v1/webhooks/{created['id']}/test", headers=headers)

        first, second = (json.loads(request.body)["event_id"] for request in receiver.received)
        assert first != second

    async def test_during_the_grace_period_the_ping_carries_both_signatures_new_first(
        self,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        create_webhook: CreateWebhook,
        receiver: Receiver,
        clock: ManualClock,
    ) -> None:
        created = await create_webhook(via=private_client, url=receiver.url)
        rotated = (await private_client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=headers)).json()
        clock.advance(24 * 3600 - 1)

        await private_client.post(f"/v1/webhooks/{created['id']}/test", headers=headers)

        (request,) = receiver.received
        new, old = request.headers["x-broadnet-signature"].split(",")
        assert verify_webhook(request.body, new, rotated["secret"])
        assert verify_webhook(request.body, old, created["secret"])

    async def test_after_the_grace_period_only_the_new_secret_signs(
        self,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        factory: Factory,
        admin: User,
        create_webhook: CreateWebhook,
        receiver: Receiver,
        clock: ManualClock,
    ) -> None:
        created = await create_webhook(via=private_client, url=receiver.url)
        rotated = (await private_client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=headers)).json()
        clock.advance(24 * 3600)
        fresh = factory.headers(admin)  # access tokens last 24 hours too

        response = await private_client.post(f"/v1/webhooks/{created['id']}/test", headers=fresh)

        assert response.status_code == 200, response.text

        (request,) = receiver.received
        assert verify_webhook(request.body, request.headers["x-broadnet-signature"], rotated["secret"])

    async def test_an_inactive_subscription_can_still_be_pinged(
        self,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        create_webhook: CreateWebhook,
        receiver: Receiver,
    ) -> None:
        created = await create_webhook(via=private_client, url=receiver.url)
        await private_client.patch(f"/v1/webhooks/{created['id']}", headers=headers, json={"is_active": False})

        response = await private_client.post(f"/v1/webhooks/{created['id']}/test", headers=headers)

        assert response.json()["delivered"] is True

    async def test_a_non_2xx_answer_is_reported_as_not_delivered_with_its_status(
        self,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        create_webhook: CreateWebhook,
        receiver: Receiver,
    ) -> None:
        receiver.status = 503
        created = await create_webhook(via=private_client, url=receiver.url)

        response = await private_client.post(f"/v1/webhooks/{created['id']}/test", headers=headers)

        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["delivered"], result["status_code"]) == (False, 503)
        assert "503" in result["error"]

    async def test_a_receiver_that_is_not_listening_is_reported_with_no_status(
        self,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        create_webhook: CreateWebhook,
        closed_port: int,
    ) -> None:
        created = await create_webhook(via=private_client, url=f"http://127.0.0.1:{closed_port}/hooks")

        result = (await private_client.post(f"/v1/webhooks/{created['id']}/test", headers=headers)).json()

        assert (result["delivered"], result["status_code"]) == (False, None)
        assert result["error"]

    async def test_a_private_url_saved_while_allowed_is_refused_at_send_time_once_it_is_not(
        self,
        client: httpx.AsyncClient,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        create_webhook: CreateWebhook,
        receiver: Receiver,
    ) -> None:
        created = await create_webhook(via=private_client, url=receiver.url)

        result = (await client.post(f"/v1/webhooks/{created['id']}/test", headers=headers)).json()

        assert (result["delivered"], result["status_code"]) == (False, None)
        assert "refused" in result["error"]
        assert receiver.received == []

    async def test_an_unknown_id_is_404_and_nothing_is_sent(
        self, private_client: httpx.AsyncClient, headers: dict[str, str], receiver: Receiver
    ) -> None:
        response = await private_client.post(f"/v1/webhooks/{uuid.uuid4()}/test", headers=headers)

        assert_problem(response, 404, "webhook-not-found")
        assert receiver.received == []

    async def test_another_tenants_webhook_is_404_and_nothing_is_sent(
        self,
        private_client: httpx.AsyncClient,
        headers: dict[str, str],
        other_headers: dict[str, str],
        create_webhook: CreateWebhook,
        receiver: Receiver,
    ) -> None:
        theirs = await create_webhook(as_=other_headers, via=private_client, url=receiver.url)

        response = await private_client.post(f"/v1/webhooks/{theirs['id']}/test", headers=headers)

        assert_problem(response, 404, "webhook-not-found")
        assert receiver.received == []
