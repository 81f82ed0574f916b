"""A switch simulator on a loopback port per test, and authenticated raw ESL peers to talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from engage.telephony.sim.server import Behaviour, SwitchSimulator

from .esl_peer import EslPeer

PASSWORD = "s3cret-ClueCon"
# Milliseconds instead of seconds: a whole call fits in a test.
FAST = Behaviour(ring_seconds=(0.01, 0.02), talk_seconds=(0.05, 0.08), seed=7)

StartSwitch = Callable[..., Awaitable[tuple[SwitchSimulator, int]]]
Connect = Callable[..., Awaitable[EslPeer]]


@pytest.fixture
async def start_switch(tmp_path: Path) -> AsyncIterator[StartSwitch]:
    started: list[SwitchSimulator] = []

    async def start(
        behaviour: Behaviour = FAST,
        heartbeat_seconds: float = 60.0,
        recordings_dir: Path | None = None,
        message_seconds: float = 0.05,
    ) -> tuple[SwitchSimulator, int]:
        simulator = SwitchSimulator(
            password=PASSWORD,
            behaviour=behaviour,
            recordings_dir=recordings_dir or tmp_path / "recordings",
            heartbeat_seconds=heartbeat_seconds,
            message_seconds=message_seconds,
        )
        started.append(simulator)
        return simulator, await simulator.start()

    yield start
    for simulator in started:
        await simulator.stop()


@pytest.fixture
async def switch(start_switch: StartSwitch) -> tuple[SwitchSimulator, int]:
    return await start_switch()


@pytest.fixture
def sim(switch: tuple[SwitchSimulator, int]) -> SwitchSimulator:
    return switch[0]


@pytest.fixture
async def connect(switch: tuple[SwitchSimulator, int]) -> AsyncIterator[Connect]:
    """An authenticated peer, subscribed to `events` (plain) unless `events` is empty."""
    peers: list[EslPeer] = []

    async def open_peer(events: str = "ALL", fmt: str = "plain", port: int | None = None) -> EslPeer:
        peer = await EslPeer.connect(port or switch[1])
        peers.append(peer)
        await peer.take(lambda f: f.content_type == "auth/request")
        assert await peer.command(f"auth {PASSWORD}") == "+OK accepted"
        if events:
            assert await peer.command(f"event {fmt} {events}") == f"+OK event listener enabled {fmt}"
        return peer

    yield open_peer
    for peer in peers:
        await peer.close()
