"""The console harness itself (issue 15): the served process answers the browser, its demo logins sign in, a
screenshot is a real PNG, and a webhook from the served process reaches the loopback receiver."""

from __future__ import annotations

import json

from playwright.async_api import Page

from ..webhooks.receiver import Receiver
from .conftest import Console, shot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class TestServedConsole:
    async def test_the_served_process_answers_readyz_and_serves_its_openapi_document_to_the_browser(
        self, page: Page, console: Console
    ) -> None:
        navigation = await page.goto("/readyz")
        assert navigation is not None
        ready = await navigation.json()

        document = await page.request.get("/openapi.json")

        assert page.url == f"{console.base_url}/readyz"
        assert ready == {"status": "ok", "database": "up"}
        assert document.status == 200
        assert "/v1/auth/login" in (await document.json())["paths"]

    async def test_every_demo_login_the_fixture_parsed_signs_in_to_the_demo_tenant(
        self, page: Page, console: Console
    ) -> None:
        signed_in = {}
        for name, login in console.logins.items():
            response = await page.request.post("/v1/auth/login", data=login.credentials())
            signed_in[name] = (response.status, (await response.json()).get("user", {}))

        assert sorted(console.logins) == ["admin", "layla", "omar", "supervisor"]
        assert [login.role for login in console.by_role("agent")] == ["agent", "agent"]
        for name, (status, user) in signed_in.items():
            assert status == 200, name
            assert user["tenant_id"] == console.tenant_id
            assert user["role"] == console.logins[name].role


class TestScreenshots:
    async def test_shot_writes_a_full_page_png_under_artifacts_screenshots(self, page: Page) -> None:
        await page.set_content("<h1>Engage harness</h1><div style='height: 2000px'></div>")

        path = await shot(page, "harness-smoke")

        data = path.read_bytes()
        assert path.parent.parts[-2:] == ("artifacts", "screenshots")
        assert data.startswith(PNG_SIGNATURE)
        # A PNG's IHDR holds the width and height (bytes 16-24): full page, so taller than the 900 px viewport.
        assert int.from_bytes(data[16:20], "big") == 1366
        assert int.from_bytes(data[20:24], "big") > 900


class TestReceiver:
    async def test_the_receiver_records_a_post_sent_from_the_browser(self, page: Page, receiver: Receiver) -> None:
        response = await page.request.post(receiver.url("/hooks/direct"), data={"hello": "engage"})

        received = await receiver.wait_for("/hooks/direct", 1)

        assert response.status == 200
        assert [(r.method, r.path) for r in received] == [("POST", "/hooks/direct")]
        assert json.loads(received[0].body) == {"hello": "engage"}

    async def test_the_served_process_delivers_a_signed_webhook_ping_to_the_loopback_receiver(
        self, page: Page, console: Console, receiver: Receiver
    ) -> None:
        login = await page.request.post("/v1/auth/login", data=console.logins["admin"].credentials())
        bearer = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
        created = await page.request.post(
            "/v1/webhooks", headers=bearer, data={"url": receiver.url("/hooks/ping"), "events": ["call.completed"]}
        )
        webhook = await created.json()

        tested = await page.request.post(f"/v1/webhooks/{webhook['id']}/test", headers=bearer)
        received = await receiver.wait_for("/hooks/ping", 1)

        assert created.status == 201, webhook
        assert (await tested.json())["delivered"] is True
        assert received[0].method == "POST"
        assert received[0].path == "/hooks/ping"
        assert "x-broadnet-signature" in received[0].headers
