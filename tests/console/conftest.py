"""The web console's end-to-end harness (issue 15): a real `engage serve --demo` in its own process, Debian's
Chromium driven by Playwright, a loopback webhook receiver, and screenshots under `artifacts/screenshots/`.

- `console`: `engage serve --demo` on a free loopback port, against a database made for it on the test server
  (the one `tests/conftest.py` picks) and dropped after, with its in-process switch simulator, a temporary
  ENGAGE_DATA_DIR, a JWT secret and webhooks to loopback allowed. Ready once `/readyz` answers 200 (8-10 s here);
  stopped with SIGTERM, then SIGKILL of its process group.
- `browser`: Chromium from ENGAGE_CHROMIUM, else `chromium` on PATH (Debian's package, which `.ci/run` installs;
  Playwright's own browser downloads cannot be fetched here). Missing, the tests fail, never skip.
- `page` (per test): a fresh context (1366x900, en-US, `base_url` the console's) and its page; `new_page()` makes
  more (two users side by side). A failed test leaves a screenshot of each of its pages.
- `receiver` (per test): the webhook tests' HTTP server on 127.0.0.1, which records every request.

`console` and `browser` are package-scoped, started once for tests/console: the demo floor dials from the moment
it is ready (eight available agents, Layla and Omar among them, get calls and go on_call, then wrap_up for 5 s, by
themselves), and session scope would keep it dialling, and taking CPU, under every test module after this one.

Playwright's async API, not the sync one: the suite runs in pytest-asyncio's auto mode on one session-wide loop,
so every test here is `async def` (to await httpx, asyncpg or the receiver beside the browser), and the sync API
refuses to run while a loop is running. Every wait is bounded: start-up, stop, each Playwright action and
assertion (ENGAGE_E2E_TIMEOUT_SECONDS, 10 by default: CI's two cores also run the served floor), the receiver's
`wait_for`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from engage.core.db import create_database_if_missing, drop_database, with_database

from ..cli.processes import ENGAGE, STARTUP_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS, clean_environment, free_port
from ..webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("ENGAGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
# Without the background-networking flags Chromium reaches out to Google's services at start, and this machine's
# closed network refuses those connections; the sandbox needs namespaces a root CI container does not give.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Each Playwright action, navigation and `expect` gives up after this long: a page that is not there in a few
# seconds on a local server is a failure, not something to wait out.
TIMEOUT_SECONDS = float(os.environ.get("ENGAGE_E2E_TIMEOUT_SECONDS", "10"))
BROWSER_LAUNCH_TIMEOUT_SECONDS = 30.0
VIEWPORT = {"width": 1366, "height": 900}
LOG_TAIL_LINES = 60
_SHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Login:
    email: str
    password: str
    role: str  # admin, supervisor or agent
    full_name: str

    def credentials(self) -> dict[str, str]:
        """The body of `POST /v1/auth/login`."""
        return {"email": self.email, "password": self.password}


@dataclass(frozen=True)
class Console:
    """The served Engage. `logins` is keyed by the demo email's local part: `admin`, `supervisor`, and the two
    agents with logins, `layla` and `omar` (their passwords are new on every start)."""

    base_url: str
    logins: dict[str, Login]
    tenant_id: str
    sim_clock_start: str | None
    env: dict[str, str]
    database_url: str
    data_dir: Path
    log_path: Path
    started_in_seconds: float

    def by_role(self, role: str) -> list[Login]:
        return [login for login in self.logins.values() if login.role == role]

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _parse_demo(stdout: Path) -> dict[str, Any] | None:
    """The JSON block `serve --demo` prints on stdout (and nothing else there), or None until it is whole."""
    try:
        body: dict[str, Any] = json.loads(stdout.read_text())
    except (OSError, ValueError):
        return None
    return body


async def _wait_until_ready(
    process: asyncio.subprocess.Process, base_url: str, stdout: Path, log: Path
) -> dict[str, Any]:
    """Poll `/readyz` until 200 and the demo block is printed, within STARTUP_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                pytest.fail(
                    f"engage serve exited with {process.returncode} during start-up; its log ({log}) ends:\n"
                    f"{_tail(log, LOG_TAIL_LINES)}\nstdout:\n{_tail(stdout, 20)}"
                )
            try:
                ready = (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                ready = False
            demo = _parse_demo(stdout) if ready else None
            if demo is not None:
                return demo
            await asyncio.sleep(0.2)
    pytest.fail(
        f"engage serve did not answer /readyz within {STARTUP_TIMEOUT_SECONDS:.0f} s; its log ({log}) ends:\n"
        f"{_tail(log, LOG_TAIL_LINES)}\nstdout:\n{_tail(stdout, 20)}"
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (a graceful stop hands the dialer's leases back), then SIGKILL of the whole process group."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)


@pytest.fixture(scope="package")
async def console(server_url: str) -> AsyncIterator[Console]:
    name = f"engage_console_{secrets.token_hex(4)}"
    await create_database_if_missing(server_url, name)
    database_url = with_database(server_url, name)
    data_dir = Path(tempfile.mkdtemp(prefix="engage-console-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **clean_environment(),
        "ENGAGE_DATA_DIR": str(data_dir),
        "ENGAGE_DATABASE_URL": database_url,
        "ENGAGE_JWT_SECRET": secrets.token_urlsafe(40),
        "ENGAGE_PUBLIC_URL": base_url,
        # The e2e tests subscribe webhooks to the `receiver` on 127.0.0.1 over http.
        "ENGAGE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "ENGAGE_LOG_LEVEL": "INFO",
        # Calls of 8 to 25 s (the demo's are 20 to 120): a test waiting for an agent to come off a call waits less.
        "ENGAGE_SIM_TALK_SECONDS": "8-25",
    }
    stdout_path, log_path = data_dir / "serve.out", data_dir / "serve.log"
    process: asyncio.subprocess.Process | None = None
    try:
        started = time.monotonic()
        with stdout_path.open("wb") as stdout, log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                str(ENGAGE),
                "serve",
                "--demo",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                env=env,
                cwd=data_dir,
                stdout=stdout,
                stderr=log,
                # Its own process group, so that teardown can kill whatever it started with it.
                start_new_session=True,
            )
        demo = await _wait_until_ready(process, base_url, stdout_path, log_path)
        logins = {
            item["email"].split("@")[0]: Login(item["email"], item["password"], item["role"], item["full_name"])
            for item in demo["logins"]
        }
        yield Console(
            base_url=base_url,
            logins=logins,
            tenant_id=demo["tenant_id"],
            sim_clock_start=demo["sim_clock_start"],
            env=env,
            database_url=database_url,
            data_dir=data_dir,
            log_path=log_path,
            started_in_seconds=time.monotonic() - started,
        )
    finally:
        try:
            if process is not None:
                await _stop(process)
        finally:
            await drop_database(server_url, name)
            shutil.rmtree(data_dir, ignore_errors=True)


# -- the browser ---------------------------------------------------------------------------------------------------


def chromium_path() -> Path:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    pytest.fail(
        f"No Chromium at {CHROMIUM}: the console's browser tests drive Debian's chromium. Install it with "
        "`apt-get install chromium` (.ci/run does), or point ENGAGE_CHROMIUM at a Chromium binary. Playwright's own "
        "browser downloads (`playwright install`) cannot be fetched here."
    )


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    expect.set_options(timeout=TIMEOUT_SECONDS * 1000)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=BROWSER_LAUNCH_TIMEOUT_SECONDS * 1000,
        )
        try:
            yield launched
        finally:
            await launched.close()


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the test item, so that `new_page` knows at teardown whether the test failed."""
    report: pytest.TestReport = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


NewPage = Callable[[], Awaitable[Page]]


@pytest.fixture
async def new_page(browser: Browser, console: Console, request: pytest.FixtureRequest) -> AsyncIterator[NewPage]:
    """`await new_page()`: a page in a context of its own (its own cookies and storage: one user each), closed
    after the test. Relative URLs (`page.goto("/console")`, `page.request.get("/readyz")`) go to the console."""
    pages: list[Page] = []

    async def make() -> Page:
        context = await browser.new_context(
            base_url=console.base_url, viewport=VIEWPORT, locale="en-US", timezone_id="UTC"
        )
        context.set_default_timeout(TIMEOUT_SECONDS * 1000)
        context.set_default_navigation_timeout(TIMEOUT_SECONDS * 1000)
        page = await context.new_page()
        pages.append(page)
        return page

    try:
        yield make
    finally:
        call = request.node.stash.get(_REPORTS, {}).get("call")
        for index, page in enumerate(pages):
            if call is not None and call.failed:
                with contextlib.suppress(PlaywrightError):
                    await shot(page, f"FAILED-{_slug(request.node.name)}-{index}")
            with contextlib.suppress(PlaywrightError):
                await page.context.close()


@pytest.fixture
async def page(new_page: NewPage) -> Page:
    return await new_page()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.-")[:150] or "page"


async def shot(page: Page, name: str) -> Path:
    """A full-page PNG of `page` at `artifacts/screenshots/<name>.png` (under the repository root); its path."""
    if not _SHOT_NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: letters, digits, '.', '_' and '-' only")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=path, full_page=True)
    return path


# -- the webhook receiver -----------------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The webhook tests' loopback receiver (`tests/webhooks/receiver.py`): it answers 200 and records every request."""
    async with Receiver() as running:
        yield running
