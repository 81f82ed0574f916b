"""SSRF defence when a subscription is saved: with `ENGAGE_WEBHOOK_ALLOW_PRIVATE_TARGETS` false (the default,
and the test settings') a URL must be https and its host, resolved, only public addresses. A refused URL is a
422 `unsafe-webhook-url` giving the reason, on creation and on update, and nothing is written."""

from __future__ import annotations

import uuid

import httpx
import pytest

from engage.tenancy.models import Tenant

from ..problems import assert_problem
from .conftest import CreateWebhook, WebhookDb

REFUSED = [
    pytest.param("http://93.184.215.14/hooks", "https", id="plain-http"),
    pytest.param("https://127.0.0.1/hooks", "127.0.0.1", id="loopback"),
    pytest.param("https://10.0.0.1/hooks", "10.0.0.1", id="private-10"),
    pytest.param("https://192.168.1.20:8443/hooks", "192.168.1.20", id="private-192-168"),
    pytest.param("https://169.254.169.254/latest/meta-data", "169.254.169.254", id="cloud-metadata"),
    pytest.param("https://[::1]/hooks", "::1", id="ipv6-loopback"),
    pytest.param("https://[::ffff:127.0.0.1]/hooks", "127.0.0.1", id="ipv4-mapped-loopback"),
    pytest.param("https://0.0.0.0/hooks", "0.0.0.0", id="unspecified"),  # noqa: S104 - a URL refused, not a bind
    pytest.param("https://localhost/hooks", "localhost", id="name-resolving-to-loopback"),
    pytest.param("https://hooks.engage.invalid/hooks", "does not resolve", id="unresolvable-name"),
    pytest.param("https://user:pw@93.184.215.14/hooks", "credentials", id="credentials-in-url"),
    pytest.param("ftp://93.184.215.14/hooks", "https", id="other-scheme"),
    pytest.param("93.184.215.14/hooks", "https", id="no-scheme"),
]


class TestCreateRefusesUnsafeUrls:
    @pytest.mark.parametrize(("url", "reason"), REFUSED)
    async def test_an_unsafe_url_is_422_with_the_reason_and_nothing_is_created(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        webhook_db: WebhookDb,
        url: str,
        reason: str,
    ) -> None:
        response = await client.post("/v1/webhooks", headers=headers, json={"url": url, "events": ["dnc.added"]})

        body = assert_problem(response, 422, "unsafe-webhook-url")
        assert body["title"] == "Unsafe webhook URL"
        assert reason in body["reason"]
        assert body["detail"] == body["reason"]
        assert await webhook_db.subscriptions(tenant.id) == []


class TestUpdateRefusesUnsafeUrls:
    @pytest.mark.parametrize(("url", "reason"), REFUSED)
    async def test_an_unsafe_url_is_422_and_the_subscription_keeps_its_url(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        tenant: Tenant,
        create_webhook: CreateWebhook,
        webhook_db: WebhookDb,
        url: str,
        reason: str,
    ) -> None:
        created = await create_webhook()

        response = await client.patch(
            f"/v1/webhooks/{created['id']}", headers=headers, json={"url": url, "description": "moved"}
        )

        assert reason in assert_problem(response, 422, "unsafe-webhook-url")["reason"]
        stored = await webhook_db.subscription(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert (stored.url, stored.description, stored.updated_at.isoformat()) == (
            created["url"],
            None,
            "2026-06-12T10:00:00+00:00",
        )

    async def test_another_tenants_webhook_is_404_before_its_new_url_is_judged(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        other_headers: dict[str, str],
        create_webhook: CreateWebhook,
    ) -> None:
        theirs = await create_webhook(as_=other_headers)

        response = await client.patch(f"/v1/webhooks/{theirs['id']}", headers=headers, json={"url": "http://10.0.0.1/"})

        assert_problem(response, 404, "webhook-not-found")


class TestPrivateTargetsAllowed:
    @pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hooks", "https://10.0.0.1/hooks", "http://localhost/in"])
    async def test_with_private_targets_allowed_http_and_private_addresses_are_accepted(
        self, private_client: httpx.AsyncClient, headers: dict[str, str], create_webhook: CreateWebhook, url: str
    ) -> None:
        created = await create_webhook(via=private_client, url=url)

        assert created["url"] == url

    async def test_even_then_a_url_must_name_a_host(
        self, private_client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await private_client.post(
            "/v1/webhooks", headers=headers, json={"url": "http:///hooks", "events": ["dnc.added"]}
        )

        assert "no host" in assert_problem(response, 422, "unsafe-webhook-url")["reason"]
