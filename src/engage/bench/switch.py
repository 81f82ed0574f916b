"""`switch`: the ESL client and adapter against the switch simulator in its own process (`engage sim`): paced
originates (target 125 a second) with enough talk time that `--concurrency` legs (default 1,000) are up at
once; prints the originate rate, event lag p50/p99 (switch stamp to client), per-leg order and CPU per side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import structlog

from engage.bench.common import percentile
from engage.config import Settings
from engage.core.clock import SystemClock
from engage.telephony.esl.client import EslClient
from engage.telephony.esl.codec import Event as EslEvent
from engage.telephony.esl.switch import EslSwitch
from engage.telephony.events import LegAnswered, LegHangup, LegRinging
from engage.telephony.port import Originate, SwitchError

log = structlog.get_logger("engage.bench")

_SWITCH_TARGET_RATE = 125.0  # originates per second the benchmark aims at (issue 5: sustain at least 100)
_SWITCH_DEFAULT_LEGS = 1000
_STOP_SECONDS = 10.0


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of another process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def start_simulator(
    password: str, talk_seconds: float, *, overrides: Mapping[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, int]:
    """`engage sim` in its own process (so each side's CPU can be told apart); every callee answers and talks
    long enough for `legs` calls to be up at once at the target rate (`overrides`: other callee behaviour)."""
    env = {
        **os.environ,
        "ENGAGE_ESL_PASSWORD": password,
        "ENGAGE_SIM_ANSWER_RATE": "1",
        "ENGAGE_SIM_BUSY_RATE": "0",
        "ENGAGE_SIM_VOICEMAIL_RATE": "0",
        "ENGAGE_SIM_RING_SECONDS": "0.5-1.5",
        "ENGAGE_SIM_TALK_SECONDS": f"{talk_seconds * 0.9:.1f}-{talk_seconds * 1.1:.1f}",
        "ENGAGE_SIM_SEED": "5",
        "ENGAGE_LOG_LEVEL": "WARNING",
        **(overrides or {}),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engage.cli", "sim", "--port", "0", env=env, stdout=asyncio.subprocess.PIPE
    )
    if process.stdout is None:
        raise RuntimeError("the child process has no stdout pipe")
    printed = b""
    try:
        while True:  # it prints where it listens as one (indented) JSON object
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            if not line:
                raise RuntimeError("the switch simulator exited before listening")
            printed += line
            try:
                return process, int(json.loads(printed)["esl"]["port"])
            except ValueError:
                continue
    except BaseException:
        process.kill()
        await process.wait()
        raise


async def stop_simulator(simulator: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `_STOP_SECONDS`: a benchmark never waits on it forever."""
    if simulator.returncode is None:
        simulator.terminate()
    try:
        await asyncio.wait_for(simulator.wait(), _STOP_SECONDS)
    except TimeoutError:
        simulator.kill()
        await simulator.wait()


async def _bench_switch(seconds: float, legs: int) -> dict[str, object]:
    password = secrets.token_urlsafe(16)
    talk_seconds = legs / _SWITCH_TARGET_RATE
    simulator, port = await start_simulator(password, talk_seconds)
    client, observer = EslClient(), EslClient()
    switch = EslSwitch(client, gateway="carrier", clock=SystemClock())
    lags_ms: list[float] = []
    states: dict[str, list[str]] = {}
    live: set[str] = set()
    peak_live = 0
    try:
        await client.connect("127.0.0.1", port, password)
        await switch.start()
        await observer.connect("127.0.0.1", port, password)
        await observer.subscribe(["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"])

        async def observe() -> None:
            # The switch stamps each event (Event-Date-Timestamp, µs); both processes share this machine's clock.
            async for signal in observer.signals():
                if isinstance(signal, EslEvent):
                    stamp = signal.get("Event-Date-Timestamp")
                    if stamp and stamp.isdigit():
                        lags_ms.append(time.time() * 1000 - int(stamp) / 1000)

        async def consume() -> None:
            nonlocal peak_live
            async for event in switch.events():
                if isinstance(event, LegRinging | LegAnswered | LegHangup):
                    states.setdefault(event.leg_id, []).append(type(event).__name__)
                    if isinstance(event, LegHangup):
                        live.discard(event.leg_id)

        tasks = [asyncio.create_task(observe()), asyncio.create_task(consume())]
        cpu_client, cpu_sim = own_cpu_seconds(), process_cpu_seconds(simulator.pid)
        started = time.perf_counter()
        originated = failed = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            # Paced: the n-th originate leaves at n / rate seconds, never in a burst.
            due = originated + failed - elapsed * _SWITCH_TARGET_RATE
            if due >= 0:
                await asyncio.sleep(due / _SWITCH_TARGET_RATE)
            leg_id = str(uuid.uuid4())
            try:
                await switch.originate(
                    Originate(
                        leg_id=leg_id,
                        destination=f"+97150{originated % 10_000_000:07d}",
                        caller_id="+97142345678",
                        timeout_seconds=30,
                    )
                )
            except SwitchError:
                failed += 1
                continue
            originated += 1
            live.add(leg_id)
            peak_live = max(peak_live, len(live))
        originate_seconds = time.perf_counter() - started
        cpu_client = own_cpu_seconds() - cpu_client
        sim_after = process_cpu_seconds(simulator.pid)
        sim_cpu = sim_after - cpu_sim if sim_after is not None and cpu_sim is not None else None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        closed_cleanly = False
        try:
            async with asyncio.timeout(_STOP_SECONDS):
                await switch.close()
                await client.close()
                await observer.close()
            closed_cleanly = True
        except TimeoutError:
            # Reported in the figures, not raised: what was measured stands, and the simulator is stopped below.
            log.warning("bench.switch.close_timed_out", seconds=_STOP_SECONDS)
        finally:
            await stop_simulator(simulator)
    expected = ("LegRinging", "LegAnswered", "LegHangup")
    out_of_order = sum(1 for seen in states.values() if list(seen) != [s for s in expected if s in seen])
    return {
        "benchmark": "switch",
        "seconds": round(originate_seconds, 1),
        "target_originates_per_second": _SWITCH_TARGET_RATE,
        "originates": originated,
        "originate_failures": failed,
        "originates_per_second": round(originated / originate_seconds, 1),
        "concurrent_legs_peak": peak_live,
        "legs_with_events_out_of_order": out_of_order,
        "clients_closed_cleanly": closed_cleanly,
        "event_lag_ms": {
            "events": len(lags_ms),
            "p50": round(percentile(lags_ms, 0.50), 2) if lags_ms else None,
            "p99": round(percentile(lags_ms, 0.99), 2) if lags_ms else None,
        },
        "cpu_seconds": {
            "client": round(cpu_client, 2),
            "simulator": round(sim_cpu, 2) if sim_cpu is not None else None,
        },
    }


def bench_switch(args: argparse.Namespace, settings: Settings) -> int:
    legs = args.concurrency or _SWITCH_DEFAULT_LEGS
    seconds = max(args.seconds, 2 * legs / _SWITCH_TARGET_RATE)  # long enough to hold `legs` calls up at once
    print(json.dumps(asyncio.run(_bench_switch(seconds, legs)), indent=2))
    return 0
