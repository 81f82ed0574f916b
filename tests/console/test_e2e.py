"""The console in a real browser (Debian's Chromium) against a real `engage serve --demo`, whose simulated floor
dials from the start: each role signs in and lands on its page, the wallboard follows the floor live, an agent
takes a call on the desk and dispositions it, an admin creates a webhook and sees its deliveries, and Arabic
turns every page right-to-left. Every page is photographed in both languages (artifacts/screenshots)."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from .conftest import Console, shot

# The demo floor puts a call through to an agent within seconds; a wallboard re-reads within a second of an event.
CALL_SECONDS = 60
LIVE_SECONDS = 10


async def sign_in(page: Page, console: Console, who: str) -> None:
    login = console.logins[who]
    await page.goto("/console/")
    await page.get_by_label("Email").fill(login.email)
    await page.get_by_label("Password").fill(login.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("header.topbar")).to_be_visible()
    await expect(page.get_by_test_id("stream-state")).to_have_attribute(
        "data-state", "live", timeout=LIVE_SECONDS * 1000
    )


async def api_token(page: Page, console: Console, who: str) -> dict[str, str]:
    response = await page.request.post("/v1/auth/login", data=console.logins[who].credentials())
    assert response.ok, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def api_json(page: Page, method: str, path: str, headers: dict[str, str], **body: Any) -> Any:
    response = await page.request.fetch(path, method=method, headers=headers, data=body or None)
    assert response.ok, f"{method} {path}: {response.status} {await response.text()}"
    return await response.json()


async def set_state_between_calls(page: Page, headers: dict[str, str], state: str, reason: str | None = None) -> Any:
    """POST /v1/agents/me/state once the agent is off a call: the demo floor keeps dialling, and while the dialer
    holds an agent for a call the answer is 409 `agent-on-call`."""
    for _ in range(CALL_SECONDS * 2):
        response = await page.request.post(
            "/v1/agents/me/state", headers=headers, data={"state": state, "reason": reason}
        )
        if response.status != 409:
            assert response.ok, f"{response.status} {await response.text()}"
            return await response.json()
        assert (await response.json())["type"].endswith("/agent-on-call")
        await page.wait_for_timeout(500)
    pytest.fail(f"the agent was on calls for {CALL_SECONDS} s on end")


async def ready_for_calls(page: Page, console: Console, who: str) -> None:
    """The agent `who` available for calls, unless already on one (which is as good)."""
    headers = await api_token(page, console, who)
    if (await api_json(page, "GET", "/v1/agents/me/state", headers))["state"] not in ("reserved", "on_call"):
        await set_state_between_calls(page, headers, "available")


def watch_errors(page: Page) -> list[str]:
    """Script errors and failed requests the page logs: a page that works has none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    return errors


class TestSignIn:
    @pytest.mark.parametrize(
        ("who", "landing", "sees", "does_not_see"),
        [
            ("admin", "#/wallboard", ["Wallboard", "Users & teams", "Integrations", "Campaigns"], ["My desk"]),
            ("supervisor", "#/wallboard", ["Wallboard", "Campaigns", "Reports"], ["Users & teams", "Integrations"]),
            ("layla", "#/desk", ["My desk", "Recordings", "Reports"], ["Wallboard", "Campaigns", "Integrations"]),
        ],
    )
    async def test_each_role_lands_on_its_page_and_sees_only_its_pages(
        self, page: Page, console: Console, who: str, landing: str, sees: list[str], does_not_see: list[str]
    ) -> None:
        errors = watch_errors(page)

        await sign_in(page, console, who)

        await expect(page).to_have_url(re.compile(re.escape(landing) + "$"))
        nav = page.get_by_role("navigation", name="Main")
        for text in sees:
            await expect(nav.get_by_role("link", name=text, exact=True)).to_be_visible()
        for text in does_not_see:
            await expect(nav.get_by_role("link", name=text, exact=True)).to_have_count(0)
        await expect(page.locator(".who .user")).to_contain_text(console.logins[who].full_name)
        assert errors == []

    async def test_a_wrong_password_is_refused_with_the_reason_and_no_session(
        self, page: Page, console: Console
    ) -> None:
        await page.goto("/console/")
        await page.get_by_label("Email").fill(console.logins["admin"].email)
        await page.get_by_label("Password").fill("not the password")
        await page.get_by_role("button", name="Sign in").click()

        await expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")
        assert await page.evaluate("sessionStorage.getItem('engage.session')") is None

    async def test_signing_out_ends_the_session(self, page: Page, console: Console) -> None:
        await sign_in(page, console, "supervisor")

        await page.get_by_role("button", name="Sign out").click()

        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert await page.evaluate("sessionStorage.getItem('engage.session')") is None


class TestWallboard:
    async def test_the_wallboard_follows_the_campaign_as_it_is_paused_and_dials_again(
        self, page: Page, console: Console
    ) -> None:
        await sign_in(page, console, "supervisor")
        headers = await api_token(page, console, "supervisor")
        campaign = (await api_json(page, "GET", "/v1/campaigns?status=active", headers))["items"][0]
        row = page.locator(f'[data-testid="campaign-row"][data-campaign-id="{campaign["id"]}"]')
        await expect(row).to_be_visible()
        await expect(page.get_by_test_id("agent-card")).to_have_count(8)
        await shot(page, "wallboard-en")

        # Paused through the API, by someone else: the board hears `campaign.paused` and drops the row at once
        # (well before its 20 s safety re-read).
        await api_json(page, "POST", f"/v1/campaigns/{campaign['id']}/pause", headers)
        await expect(row).to_have_count(0, timeout=LIVE_SECONDS * 1000)

        dialled = await page.get_by_test_id("tile-dialled-today-value").inner_text()
        await api_json(page, "POST", f"/v1/campaigns/{campaign['id']}/start", headers)
        await expect(row).to_be_visible(timeout=LIVE_SECONDS * 1000)
        # Dialling again: today's count climbs as the new calls' events arrive.
        await expect(page.get_by_test_id("tile-dialled-today-value")).not_to_have_text(
            dialled, timeout=CALL_SECONDS * 1000
        )

    async def test_agent_cards_change_state_as_the_agents_do(self, page: Page, console: Console) -> None:
        await sign_in(page, console, "supervisor")
        layla = page.locator(".agent-card", has_text=console.logins["layla"].full_name)
        await expect(layla).to_be_visible()
        headers = await api_token(page, console, "layla")

        await set_state_between_calls(page, headers, "training", "Product training")

        await expect(layla).to_have_attribute("data-state", "training", timeout=LIVE_SECONDS * 1000)
        await expect(layla.locator(".state")).to_have_text("Training")
        await api_json(page, "POST", "/v1/agents/me/state", headers, state="available")  # training: never on a call
        await expect(layla).not_to_have_attribute("data-state", "training", timeout=LIVE_SECONDS * 1000)


class TestAgentDesk:
    async def test_the_agent_takes_a_call_and_dispositions_it(self, page: Page, console: Console) -> None:
        errors = watch_errors(page)
        await ready_for_calls(page, console, "layla")
        await sign_in(page, console, "layla")
        await expect(page.get_by_test_id("my-state-value")).to_have_attribute(
            "data-state", re.compile(r"available|reserved|on_call|wrap_up")
        )

        card = page.locator("[data-testid=current-call] .contact-card")
        await expect(card).to_be_visible(timeout=CALL_SECONDS * 1000)
        call_id = await card.get_attribute("data-call-id")
        if await page.get_by_test_id("my-state-value").get_attribute("data-state") == "on_call":
            # The dialer holds the agent until the call ends: the status buttons wait, saying why.
            await expect(page.get_by_test_id("set-state-break")).to_be_disabled()
            await expect(page.get_by_test_id("state-busy")).to_be_visible()
        name = await page.get_by_test_id("contact-name").inner_text()
        await shot(page, "desk-en")
        form = page.get_by_test_id("disposition-form")
        await form.get_by_label("Outcome").select_option("interested")
        await form.get_by_label("Notes").fill("Asked for the two-year renewal")
        await form.get_by_test_id("submit-disposition").click()
        await expect(page.get_by_role("status").filter(has_text="Disposition saved.")).to_be_visible()

        headers = await api_token(page, console, "supervisor")
        stored = await api_json(page, "GET", f"/v1/calls/{call_id}", headers)
        assert (stored["disposition"], stored["notes"]) == ("interested", "Asked for the two-year renewal")
        assert (
            stored["agent_id"]
            == (await api_json(page, "GET", "/v1/auth/me", await api_token(page, console, "layla")))["user"]["id"]
        )
        assert name.strip()
        assert errors == []

    async def test_a_break_with_a_reason_shows_on_the_desk(self, page: Page, console: Console) -> None:
        await sign_in(page, console, "omar")
        value = page.get_by_test_id("my-state-value")

        # Omar is on the demo floor: while a call holds him the buttons are disabled (click() waits for them), and a
        # call that reaches him between the desk's last look and the click is refused (409); then he tries again.
        for _ in range(3):
            await page.get_by_label("Reason (optional)").fill("Prayer")
            await page.get_by_test_id("set-state-break").click(timeout=CALL_SECONDS * 1000)
            with contextlib.suppress(AssertionError):
                await expect(value).to_have_attribute("data-state", "break")
                break

        await expect(value).to_have_attribute("data-state", "break")
        await expect(page.get_by_test_id("my-state")).to_contain_text("Prayer")
        await page.get_by_test_id("set-state-available").click()
        await expect(page.get_by_test_id("my-state-value")).not_to_have_attribute("data-state", "break")

    async def test_what_the_agent_types_as_a_reason_survives_a_change_made_elsewhere(
        self, page: Page, console: Console
    ) -> None:
        headers = await api_token(page, console, "omar")
        await set_state_between_calls(page, headers, "lunch")  # off the floor: no call redraws the desk meanwhile
        await sign_in(page, console, "omar")
        value = page.get_by_test_id("my-state-value")
        await expect(value).to_have_attribute("data-state", "lunch")
        reason = page.get_by_label("Reason (optional)")
        await reason.fill("Prayer")

        # Another tab (or a supervisor's tool) changes the state: the event redraws the desk, and the box keeps
        # the text being typed rather than showing the new stored reason.
        await api_json(page, "POST", "/v1/agents/me/state", headers, state="training", reason="Set elsewhere")
        await expect(value).to_have_attribute("data-state", "training")
        await expect(page.get_by_test_id("my-state")).to_contain_text("Set elsewhere")
        await expect(reason).to_have_value("Prayer")

        await page.get_by_test_id("set-state-break").click()
        await expect(value).to_have_attribute("data-state", "break")
        await expect(page.get_by_test_id("my-state")).to_contain_text("Prayer")
        stored = await api_json(page, "GET", "/v1/agents/me/state", headers)
        assert (stored["state"], stored["reason"]) == ("break", "Prayer")
        # Saved, the box empties: the reason was this break's, not the next state's.
        await expect(reason).to_have_value("")
        await page.get_by_test_id("set-state-available").click()
        await expect(value).to_have_attribute("data-state", "available")
        stored = await api_json(page, "GET", "/v1/agents/me/state", headers)
        assert (stored["state"], stored["reason"]) == ("available", None)


class TestArabic:
    async def test_switching_to_arabic_turns_the_page_right_to_left(self, page: Page, console: Console) -> None:
        await sign_in(page, console, "supervisor")
        width = page.viewport_size["width"] if page.viewport_size else 1366
        english_brand = await page.locator(".brand").bounding_box()

        await page.get_by_test_id("lang-switch").click()

        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await expect(page.locator("html")).to_have_attribute("lang", "ar")
        await expect(page.get_by_role("navigation", name="القائمة الرئيسية")).to_be_visible()
        await expect(page.get_by_role("link", name="لوحة المراقبة")).to_be_visible()
        arabic_brand = await page.locator(".brand").bounding_box()
        assert english_brand is not None
        assert arabic_brand is not None
        # The brand starts the header: at the left in English, at the right in Arabic.
        assert english_brand["x"] < width / 2 < arabic_brand["x"]
        sign_out = await page.get_by_role("button", name="تسجيل الخروج").bounding_box()
        assert sign_out is not None
        assert sign_out["x"] < width / 2
        await shot(page, "wallboard-ar")

    async def test_the_language_choice_is_kept_across_a_reload(self, page: Page, console: Console) -> None:
        await ready_for_calls(page, console, "layla")  # so that her desk shows a call for the photograph
        await sign_in(page, console, "layla")
        await page.get_by_test_id("lang-switch").click()
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")

        await page.reload()

        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await expect(page.get_by_role("heading", name="مكتبي")).to_be_visible()
        await expect(page.get_by_test_id("my-state-value")).to_be_visible()
        await expect(page.locator("[data-testid=current-call] .contact-card")).to_be_visible(
            timeout=2 * CALL_SECONDS * 1000
        )
        await shot(page, "desk-ar")
        await page.get_by_test_id("lang-switch").click()
        await expect(page.locator("html")).to_have_attribute("dir", "ltr")
