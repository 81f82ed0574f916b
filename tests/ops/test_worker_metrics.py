"""`engage worker` serves no API, so ENGAGE_METRICS_PORT gives its Prometheus metrics a port of their own: what an
operator scrapes to see a worker's switch connection, leases, calls, compliance denials and webhook attempts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from ..cli.processes import ENGAGE, STARTUP_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS, free_port

# Every family the operations guide tells an operator to watch on a worker.
WORKER_FAMILIES = (
    "engage_dialer_switch_connected",
    "engage_dialer_leases_held",
    "engage_dialer_calls_placed_total",
    "engage_dialer_step_failures_total",
    "engage_compliance_errors_total",
    "engage_webhook_attempts_total",
    "engage_recording_uploads_total",
)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def scrape(url: str, process: asyncio.subprocess.Process, log: Path) -> str:
    """GET /metrics until it answers with the switch connected; fails early if the worker exits."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    async with httpx.AsyncClient(timeout=5.0) as client:
        while time.monotonic() < deadline:
            assert process.returncode is None, f"worker exited {process.returncode}:\n{tail(log)}"
            try:
                response = await client.get(url)
            except httpx.TransportError:
                response = None
            if response is not None and "engage_dialer_switch_connected 1.0" in response.text:
                return response.text
            await asyncio.sleep(0.25)
    raise AssertionError(f"{url} did not show a connected worker in time:\n{tail(log)}")


async def test_a_worker_serves_its_metrics_on_its_own_port_until_it_stops(cli_env: dict[str, str]) -> None:
    port = free_port()
    log = Path(cli_env["ENGAGE_DATA_DIR"]) / "worker.log"
    env = {**cli_env, "ENGAGE_METRICS_PORT": str(port), "ENGAGE_LOG_LEVEL": "INFO"}
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(ENGAGE), "worker", env=env, cwd=env["ENGAGE_DATA_DIR"], stdout=out, stderr=out
        )
    try:
        text = await scrape(f"http://127.0.0.1:{port}/metrics", process, log)
        for family in WORKER_FAMILIES:
            assert f"# TYPE {family.removesuffix('_total')}" in text, f"{family} is not exported"
        assert "engage_http_requests_total{" not in text  # a worker serves no API requests
    finally:
        if process.returncode is None:
            process.terminate()
        assert await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS) == 0, tail(log)

    async with httpx.AsyncClient(timeout=2.0) as client:
        try:
            await client.get(f"http://127.0.0.1:{port}/metrics")
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the worker's metrics port still answers after it stopped")
