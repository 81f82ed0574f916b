"""The admin pages in a real browser against the served demo: a supervisor builds a campaign from nothing (create,
a CSV of contacts with its result summary, agents, start, the diagnostics in words, pause, the forecast chart);
an admin creates a webhook, is shown its secret once and sees the floor's events delivered in its log; recordings
play in the page; and every page of every role renders without a script error in English and in Arabic, each
photographed (artifacts/screenshots)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from ..webhooks.receiver import Receiver
from .conftest import Console, NewPage, shot
from .test_e2e import CALL_SECONDS, LIVE_SECONDS, api_json, api_token, sign_in, watch_errors

CSV = (
    "phone,first_name,last_name,policy_type\n"
    "+971501110001,Fatima,Al Zahra,comprehensive\n"
    "+971501110002,محمد,العتيبي,third_party\n"
    "+971501110002,Duplicate,Row,comprehensive\n"
    "not a phone,Bad,Number,comprehensive\n"
)

PAGES = {
    "admin": [
        "/wallboard",
        "/admin/campaigns",
        "/admin/people",
        "/admin/cli-groups",
        "/admin/recordings",
        "/admin/integrations",
        "/admin/compliance",
        "/admin/reports",
    ],
    "supervisor": ["/wallboard", "/admin/campaigns", "/admin/recordings", "/admin/compliance", "/admin/reports"],
    "layla": ["/desk", "/admin/recordings", "/admin/compliance", "/admin/reports"],
}


async def each_page(page: Page, who: str, *, settle_ms: int) -> AsyncIterator[tuple[str, str]]:
    """Opens each of `who`'s pages in English, then in Arabic, yielding (route, language) once its heading shows
    and its reads have had `settle_ms` to finish (an open event stream never lets the network go idle)."""
    for language in ("en", "ar"):
        if language == "ar":
            await page.get_by_test_id("lang-switch").click()
            await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        for route in PAGES[who]:
            await page.goto(f"/console/#{route}")
            await expect(page.locator("main h1")).to_be_visible()
            await page.wait_for_timeout(settle_ms)
            yield route, language


class TestCampaigns:
    async def test_a_supervisor_builds_a_campaign_from_a_csv_and_runs_it(self, page: Page, console: Console) -> None:
        errors = watch_errors(page)
        await sign_in(page, console, "supervisor")
        await page.goto("/console/#/admin/campaigns")

        await page.get_by_test_id("campaign-new").click()
        await page.get_by_test_id("campaign-name").fill("Motor renewals — e2e")
        await page.get_by_test_id("campaign-mode").select_option("preview")
        await page.get_by_test_id("campaign-create").click()
        detail = page.get_by_test_id("campaign-detail")
        await expect(detail).to_be_visible()
        await expect(detail).to_contain_text("Motor renewals — e2e")

        await page.get_by_test_id("contacts-file").set_input_files(
            files=[{"name": "contacts.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
        )
        await expect(page.get_by_test_id("contacts-rows")).to_contain_text("4")
        await page.get_by_test_id("contacts-upload").click()
        summary = page.get_by_test_id("upload-result")
        await expect(summary).to_be_visible()
        await expect(summary).to_contain_text(re.compile(r"Imported\D*2"))
        await expect(summary).to_contain_text(re.compile(r"[Dd]uplicate\D*1"))
        await expect(summary).to_contain_text(re.compile(r"[Ii]nvalid\D*1"))

        pick = page.get_by_test_id("campaign-agents-select")
        omar = await pick.locator("option", has_text="Omar Khalil").get_attribute("value")
        assert omar is not None
        await pick.select_option(omar)
        await page.get_by_test_id("campaign-assign").click()
        await expect(page.get_by_test_id("campaign-agent-row")).to_have_count(1)

        await page.get_by_test_id("campaign-start").click()
        await expect(page.get_by_test_id("campaign-pause")).to_be_visible()
        headline = page.get_by_test_id("diagnostics-headline")
        await expect(headline).to_be_visible()
        assert len((await headline.inner_text()).split()) > 3  # a sentence, not a code
        await shot(page, "campaign-detail-en")

        await page.get_by_test_id("campaign-pause").click()
        await expect(page.get_by_test_id("campaign-start")).to_be_visible()
        headers = await api_token(page, console, "supervisor")
        campaigns = (await api_json(page, "GET", "/v1/campaigns?status=paused", headers))["items"]
        created = next(c for c in campaigns if c["name"] == "Motor renewals — e2e")
        assert (created["total_contacts"], created["dialing_mode"]) == (2, "preview")
        contacts = (await api_json(page, "GET", f"/v1/campaigns/{created['id']}/contacts", headers))["items"]
        assert sorted(c["custom_fields"]["policy_type"] for c in contacts) == ["comprehensive", "third_party"]
        assert errors == []

    async def test_the_forecast_is_drawn_as_a_chart_with_its_figures(self, page: Page, console: Console) -> None:
        await sign_in(page, console, "supervisor")
        await page.goto("/console/#/admin/campaigns")
        await page.get_by_test_id("campaign-open").filter(has_text="Demo Renewals").click()

        await page.get_by_test_id("forecast-from").fill("6")
        await page.get_by_test_id("forecast-to").fill("7")
        await page.get_by_test_id("forecast-run").click()

        chart = page.get_by_test_id("forecast-chart")
        await expect(chart).to_be_visible(timeout=CALL_SECONDS * 1000)
        await expect(page.get_by_test_id("forecast-row")).to_have_count(2, timeout=CALL_SECONDS * 1000)
        assert await chart.get_attribute("role") == "img"
        assert await chart.get_attribute("aria-label")
        await shot(page, "campaign-forecast-en")


class TestIntegrations:
    async def test_an_admin_creates_a_webhook_and_sees_the_floors_events_delivered(
        self, page: Page, console: Console, receiver: Receiver
    ) -> None:
        await sign_in(page, console, "admin")
        await page.goto("/console/#/admin/integrations")

        await page.get_by_test_id("webhook-url").fill(receiver.url("/hooks/crm"))
        await page.locator('[data-testid="webhook-event"][data-event="call.initiated"]').check()
        await page.get_by_test_id("webhook-description").fill("CRM (e2e)")
        await page.get_by_test_id("webhook-create").click()
        secret = page.get_by_test_id("webhook-secret")
        await expect(secret).to_be_visible()
        shown = await secret.input_value() if await secret.evaluate("e => 'value' in e") else await secret.inner_text()
        assert len(shown.strip()) >= 32
        await page.get_by_test_id("webhook-secret-done").click()
        await expect(secret).to_have_count(0)

        row = page.locator('[data-testid="webhook-row"]', has_text=receiver.url("/hooks/crm"))
        await row.get_by_test_id("webhook-deliveries").click()
        deliveries = page.get_by_test_id("delivery-row")
        for _ in range(CALL_SECONDS // 2):
            if await deliveries.count():
                break
            await page.get_by_test_id("deliveries-refresh").click()
            await page.wait_for_timeout(2000)
        await expect(deliveries.first).to_be_visible()
        await expect(deliveries.first).to_have_attribute("data-event", "call.initiated")
        received = await receiver.wait_for("/hooks/crm", 1, timeout_seconds=CALL_SECONDS)
        assert received[0].headers.get("x-broadnet-signature")
        assert json.loads(received[0].body)["event_type"] == "call.initiated"
        await shot(page, "integrations-en")


class TestRecordings:
    async def test_a_recording_plays_in_the_page(self, page: Page, console: Console) -> None:
        await sign_in(page, console, "supervisor")
        headers = await api_token(page, console, "supervisor")
        for _ in range(3 * CALL_SECONDS // 2):  # the first recordings land once the first answered calls end
            if (await api_json(page, "GET", "/v1/recordings?limit=1", headers))["items"]:
                break
            await page.wait_for_timeout(2000)
        await page.goto("/console/#/admin/recordings")

        await page.get_by_test_id("recording-play").first.click()

        player = page.get_by_test_id("recording-player")
        await expect(player).to_be_visible()
        # The browser fetched the signed URL and read the WAV's header: it knows the recording's length.
        await page.wait_for_function(
            "() => document.querySelector('[data-testid=recording-player]').readyState > 0",
            timeout=LIVE_SECONDS * 1000,
        )
        assert await player.evaluate("a => a.duration") > 1


# What a screen reader or a keyboard user would miss on the page now: controls without a label, buttons and links
# without a name, images without a text, more or fewer than one h1.
UNLABELLED = """() => {
  const named = (el) => (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || "").trim() !== "";
  const out = [];
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!(el.labels && el.labels.length) && !named(el)) out.push(`control ${el.name || el.type}`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!el.textContent.trim() && !named(el) && !el.title) out.push(`${el.tagName} ${el.outerHTML.slice(0, 80)}`);
  }
  for (const el of document.querySelectorAll("img:not([alt]), svg:not([aria-hidden=true]):not([role=img])")) {
    if (el.closest("[aria-hidden=true]") || el.closest("[role=img]")) continue;
    out.push(`graphic ${el.outerHTML.slice(0, 80)}`);
  }
  const h1 = document.querySelectorAll("main h1").length;
  if (h1 !== 1) out.push(`${h1} h1 elements`);
  return out;
}"""
# Wider than the window: the page itself scrolls sideways (a table may scroll inside its own box).
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


class TestEveryPage:
    @pytest.mark.parametrize("who", sorted(PAGES))
    async def test_every_page_renders_without_a_script_error_in_both_languages(
        self, page: Page, console: Console, who: str
    ) -> None:
        errors = watch_errors(page)
        await sign_in(page, console, who)
        async for route, language in each_page(page, who, settle_ms=1500):
            await shot(page, f"{who}-{route.strip('/').replace('/', '-')}-{language}")
            assert await page.evaluate(UNLABELLED) == [], (route, language)
        assert errors == [], json.dumps(errors, ensure_ascii=False, indent=1)

    @pytest.mark.parametrize("who", sorted(PAGES))
    async def test_every_page_fits_a_tablet_held_upright(self, new_page: NewPage, console: Console, who: str) -> None:
        page = await new_page()
        await page.set_viewport_size({"width": 768, "height": 1024})
        await sign_in(page, console, who)
        async for route, language in each_page(page, who, settle_ms=1000):
            assert await page.evaluate(OVERFLOW) <= 0, (route, language)
        await shot(page, f"{who}-tablet-ar")

    async def test_the_console_is_usable_from_the_keyboard_alone(self, page: Page, console: Console) -> None:
        """Sign in and reach another page with Tab and Enter only: the focused link shows a focus ring, and the
        new page's content takes the focus."""
        login = console.logins["supervisor"]
        await page.goto("/console/")
        await page.keyboard.type(login.email)  # the email field has the focus on arrival
        await page.keyboard.press("Tab")
        await page.keyboard.type(login.password)
        await page.keyboard.press("Enter")
        await expect(page.locator("header.topbar")).to_be_visible()

        for _ in range(12):
            await page.keyboard.press("Tab")
            focused = await page.evaluate("() => document.activeElement.textContent.trim()")
            if focused == "Campaigns":
                break
        outline = await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        await page.keyboard.press("Enter")

        await expect(page).to_have_url(re.compile(r"#/admin/campaigns$"))
        assert outline != "none"
        assert await page.evaluate("() => document.activeElement.id") == "main"
