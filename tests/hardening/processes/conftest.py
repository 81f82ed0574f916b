"""Fixtures for the process-level faults: the switch simulator on a real loopback socket with a log of what it
dialled, the run's registries and a reader of what the dialer wrote.

Every wait in this folder is bounded (`within`) and polls a condition; a fault's clock is the real one where a
process is involved, the dialer's `SteppingClock` where the worker runs in this process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import asyncpg
import pytest

from engage.calls.models import Call
from engage.core.runtime import Runtime
from engage.telephony.sim.server import Behaviour, SwitchSimulator
from tests.dialer.conftest import Floor, Reader, Registries, pause_leftover_campaigns, sim

from .switch_log import SwitchLog, record_dials

__all__ = ["sim"]  # tests/dialer's simulator, with this folder's `behaviour`


async def assert_each_call_announced_once(reader: Reader, floor: Floor, calls: Sequence[Call]) -> None:
    """Nothing half-written in the outbox: each call initiated once, completed once, answered once if bridged."""
    events = Counter(
        (event.event_type, event.correlation_id)
        for event in await reader.events(floor)
        if event.event_type.startswith("call.")
    )
    for call in calls:
        assert events[("call.initiated", call.id)] == 1, call.id
        assert events[("call.completed", call.id)] == 1, call.id
        assert events[("call.answered", call.id)] == (1 if call.bridged_at is not None else 0), call.id


@pytest.fixture
def behaviour() -> Behaviour:
    """Everyone answers after a short ring and talks for a couple of seconds, so calls are up when a fault hits."""
    return Behaviour(
        answer_rate=1.0, busy_rate=0.0, voicemail_rate=0.0, ring_seconds=(0.1, 0.3), talk_seconds=(1.5, 2.5), seed=16
    )


@pytest.fixture
def sim_port(sim: SwitchSimulator) -> int:
    assert sim._server is not None
    port: int = sim._server.sockets[0].getsockname()[1]
    return port


@pytest.fixture
def dials(sim: SwitchSimulator) -> SwitchLog:
    return record_dials(sim)


@pytest.fixture
async def registries(owner: asyncpg.Connection) -> Registries:
    """The UAE registry marked loaded (its numbers are then callable), and no other test's campaign left active
    for this test's worker to dial alongside its own."""
    await pause_leftover_campaigns(owner)
    registries = Registries(owner)
    await registries.loaded("AE")
    return registries


@pytest.fixture
def reader(runtime: Runtime) -> Reader:
    return Reader(runtime.sessions)
