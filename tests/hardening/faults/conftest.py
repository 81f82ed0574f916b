"""Fixtures for the fault-injection tests: the dialer harness of tests/dialer (the switch simulator on a real
loopback ESL socket, a real worker over the run's PostgreSQL), plus the tools that break things on purpose:

- `SwitchWatch`: a second ESL connection to the simulator that records every leg the switch creates, so a test
  can say what was (or was not) originated without asking the dialer, whose word is what is being checked.
- `TcpGate`: a loopback port in front of a real server that refuses connections while closed and forwards them
  while open, so a client (boto3, httpx) meets a dead endpoint and later the same endpoint alive again.
- `FullDisk`: the operating system answering ENOSPC for new files and folders under chosen roots, as a full
  filesystem does, while files and folders that already exist stay readable.

Every wait is bounded (`eventually` polls a condition for at most a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import pathlib
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.dialer.worker import WorkerConfig
from engage.recordings.models import Recording
from engage.telephony.esl.client import EslClient
from engage.telephony.esl.codec import Event
from engage.telephony.sim.server import Behaviour, SwitchSimulator

from ...dialer.conftest import (  # noqa: F401 - fixtures for this package
    PASSWORD,
    Floor,
    dial_clock,
    dialer,
    reader,
    registries,
    sim,
)


@pytest.fixture
def behaviour() -> Behaviour:
    """Everyone answers; calls talk 1.5 to 2 s. Longer than tests/dialer's: a call is bridged, and its recording
    started, well before the callee hangs up even on a loaded two-core machine (tests/dialer's 0.3 s calls ended
    before the bridge there)."""
    return Behaviour(
        answer_rate=1.0, busy_rate=0.0, voicemail_rate=0.0, ring_seconds=(0.05, 0.15), talk_seconds=(1.5, 2.0), seed=7
    )


@pytest.fixture
def worker_config(tmp_path: Path) -> WorkerConfig:
    """tests/dialer's knobs with slack: these tests are about faults, not about the silent-call rule, and a call
    answered on a loaded machine took longer than tests/dialer's 0.5 s to reach its agent (abandoned, locked out)."""
    return WorkerConfig(
        ring_timeout_seconds=5,
        tick_seconds=0.05,
        heartbeat_seconds=0.2,
        lease_stale_seconds=3,
        max_lines_per_tick=50,
        abandon_after_seconds=5.0,
        recordings_dir=tmp_path,
    )


class SwitchWatch:
    """Every leg the simulator creates, by destination (the callee's number, or an agent's SIP user)."""

    def __init__(self, client: EslClient) -> None:
        self.client = client
        self.destinations: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.subscribe(["CHANNEL_CREATE"])
        self._task = asyncio.create_task(self._collect(), name="switch-watch")

    async def _collect(self) -> None:
        async for signal in self.client.signals():
            if isinstance(signal, Event) and signal.get("Event-Name") == "CHANNEL_CREATE":
                self.destinations.append(signal.get("Caller-Destination-Number") or "")

    def originated(self, phones: list[str]) -> list[str]:
        """The destinations among `phones` the switch was asked to call, once per leg."""
        wanted = set(phones)
        return [destination for destination in self.destinations if destination in wanted]

    async def close(self) -> None:
        await self.client.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def switch_watch(sim: SwitchSimulator) -> AsyncIterator[SwitchWatch]:  # noqa: F811 - the fixture imported above
    port = sim._server.sockets[0].getsockname()[1] if sim._server is not None else 0
    client = EslClient(command_timeout_seconds=5.0, heartbeat_timeout_seconds=None)
    await asyncio.wait_for(client.connect("127.0.0.1", port, PASSWORD), 10)
    watch = SwitchWatch(client)
    await watch.start()
    yield watch
    await watch.close()


class TcpGate:
    """A loopback port that forwards to `upstream` while open and refuses connections while closed (the
    listening socket is gone, so a client gets ECONNREFUSED at once, as from a stopped server)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and cut every connection through the gate."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _accept(self, incoming: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        pipes = [
            asyncio.create_task(self._pipe(incoming, upstream_writer)),
            asyncio.create_task(self._pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            self._writers -= {writer, upstream_writer}
            writer.transport.abort()
            upstream_writer.transport.abort()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await source.read(1 << 16):
                writer.write(chunk)
                await writer.drain()
        writer.transport.abort()


class FullDisk:
    """While `full`, creating a folder or a temporary file under one of `roots` fails with ENOSPC, as on a full
    filesystem. The seams are the two creations Engage's recording path makes: `Path.mkdir` (the recordings
    folder a call's file goes in) and `tempfile.mkstemp` (the local object store's staging file)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.roots: list[Path] = []
        self.full = False
        self.refused = 0
        mkdir, mkstemp = pathlib.Path.mkdir, tempfile.mkstemp

        def guarded_mkdir(path: Path, *args: Any, **kwargs: Any) -> None:
            if not path.is_dir():
                self._check(path)
            mkdir(path, *args, **kwargs)

        def guarded_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
            folder = kwargs.get("dir")
            if folder is not None:
                self._check(Path(folder))
            return mkstemp(*args, **kwargs)

        monkeypatch.setattr(pathlib.Path, "mkdir", guarded_mkdir)
        monkeypatch.setattr(tempfile, "mkstemp", guarded_mkstemp)

    def _check(self, path: Path) -> None:
        if self.full and any(Path(path).resolve().is_relative_to(root.resolve()) for root in self.roots):
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> FullDisk:
    return FullDisk(monkeypatch)


async def recordings_of(runtime: Runtime, floor: Floor) -> list[Recording]:
    async with tenant_transaction(runtime.sessions, floor.tenant.id) as session:
        query = select(Recording).where(Recording.campaign_id == floor.campaign_id).order_by(Recording.id)
        return list((await session.scalars(query)).all())


class LocalCopies:
    """Watches the switch's files: once seen, a file may only disappear after its recording is `stored`
    (files are looked at before rows, and `stored` is committed before the file goes, so no false alarm)."""

    def __init__(self, runtime: Runtime, floor: Floor, recordings_dir: Path) -> None:
        self.runtime = runtime
        self.floor = floor
        self.folder = recordings_dir / str(floor.tenant.id)
        self.seen: dict[uuid.UUID, bytes] = {}

    async def probe(self) -> list[Recording]:
        present = set(self.folder.glob("*.wav")) if self.folder.is_dir() else set()
        rows = await recordings_of(self.runtime, self.floor)
        for row in rows:
            path = self.folder / f"{row.call_id}.wav"
            # Tried at least once: the switch had finished the file (a recording is due only then).
            if path in present and row.call_id not in self.seen and row.status == "pending" and row.attempts >= 1:
                self.seen[row.call_id] = path.read_bytes()
            if row.call_id in self.seen and path not in present:
                assert row.status == "stored", f"the local file of {row.id} went while it was {row.status}"
        return rows


def metric_value(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus text exposition (0 when the series has not appeared yet)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{(?P<labels>[^}}]*)\}})? (?P<value>\S+)$", re.MULTILINE)
    for match in pattern.finditer(text):
        found = ",".join(sorted((match.group("labels") or "").split(","))) if match.group("labels") else ""
        if found == wanted:
            return float(match.group("value"))
    return 0.0


async def scrape(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return metric_value(response.text, name, **labels)
