"""A FreeSWITCH stand-in: the server side of the Event Socket (mod_event_socket, inbound mode) on a real TCP
socket, with simulated callees behind it, so the production ESL client is the code under test.

This module owns the switch's lifecycle (listening, serving each connection, heartbeats, stopping) and the hooks
tests and `engage serve` use (registrations, forced outcomes, dropped connections). The parts it wires:
- `protocol`: decoding client commands; the switch's fixed identity text.
- `connections`: a client connection and its non-api commands (auth, event, filter, sendmsg, exit…).
- `api`: the api/bgapi commands (originate, uuid_*, show, status) and the switch status.
- `channels`: the live legs, each driven through its life on its own task; `legs`: their data and headers.
- `events`: subscriptions, event building (Event-Sequence) and the fan-out to connections.
- `registrations`: SIP registrations of agents' phones; `behaviour`: how simulated callees behave.

Simulator extensions (FreeSWITCH has no such commands: real phones register themselves over SIP), so that another
process can stand in for agents' phones over ESL (`telephony.sim.phones.SimPhones`):
- `api sim_register <sip_user>` → `+OK`: as `SwitchSimulator.register` (sofia::register; nothing if registered).
- `api sim_unregister <sip_user>` → `+OK`: as `SwitchSimulator.unregister` (sofia::unregister; nothing if not).

Invariants:
- Wire text is FreeSWITCH's own (replies, api bodies, event names, header names, causes): see the captures in
  /work/shared/esl-samples. Where the simulator deviates it says so in the module that owns the spot.
- One task per live leg, one per connection, one for heartbeats, and one per non-originate bgapi while it runs;
  no threads. `stop()` ends them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog

from engage.telephony.esl import codec

from .api import ApiCommands
from .behaviour import DEFAULT_BEHAVIOUR, Behaviour, parse_range
from .channels import Channels
from .connections import Connection, ConnectionCommands
from .events import EventBus
from .legs import LegState, Outcome
from .protocol import MAX_COMMAND_BYTES, READ_CHUNK, CommandDecoder
from .registrations import Registrations

__all__ = ["Behaviour", "CommandDecoder", "LegState", "Outcome", "SwitchSimulator", "parse_range"]

log = structlog.get_logger("engage.sim")

# How long stop() and drop_connections() wait for tasks to wind down before giving up on them.
SHUTDOWN_TIMEOUT_SECONDS = 5.0


class SwitchSimulator:
    def __init__(
        self,
        *,
        password: str,
        behaviour: Behaviour = DEFAULT_BEHAVIOUR,
        recordings_dir: Path | None = None,
        heartbeat_seconds: float = 20.0,
        message_seconds: float = 3.0,
    ) -> None:
        if not password:
            raise ValueError("the switch simulator needs a password")
        if message_seconds < 0:
            raise ValueError("a message lasts 0 seconds or more")
        self._heartbeat_seconds = heartbeat_seconds
        self._connections: set[Connection] = set()
        self._bus = EventBus(self._connections)
        self._registrations = Registrations(self._bus)
        self._channels = Channels(
            bus=self._bus,
            registrations=self._registrations,
            behaviour=behaviour,
            recordings_dir=recordings_dir.resolve() if recordings_dir is not None else None,
            message_seconds=message_seconds,
        )
        self._api = ApiCommands(
            bus=self._bus,
            channels=self._channels,
            registrations=self._registrations,
            uptime_seconds=self._uptime_seconds,
        )
        self._commands = ConnectionCommands(password=password, api=self._api, channels=self._channels)
        self._server: asyncio.Server | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._heartbeats_paused = False
        self._started_loop = 0.0

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        if self._server is not None:
            raise RuntimeError("the switch simulator is already started")
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_COMMAND_BYTES)
        self._started_loop = asyncio.get_running_loop().time()
        self._heartbeat_task = asyncio.create_task(self._heartbeats(), name="sim-heartbeats")
        bound: int = self._server.sockets[0].getsockname()[1]
        log.info("sim.started", host=host, port=bound)
        return bound

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in self._connections:
            connection.writer.transport.abort()
        # Connection tasks end by themselves once their socket is aborted; cancelling one instead makes asyncio's
        # stream callback log the CancelledError as an error (a traceback on every Ctrl-C of `engage serve`).
        serving = [c.task for c in self._connections if c.task is not None and c.task is not asyncio.current_task()]
        if serving:
            _, stuck = await asyncio.wait(serving, timeout=SHUTDOWN_TIMEOUT_SECONDS)
            for task in stuck:
                task.cancel()
        tasks = [*self._channels.tasks, *self._api.tasks]
        if self._heartbeat_task is not None:
            tasks.append(self._heartbeat_task)
            self._heartbeat_task = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_SECONDS)
        self._channels.cancel_timers()
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), SHUTDOWN_TIMEOUT_SECONDS)
        self._channels.legs.clear()
        self._connections.clear()
        log.info("sim.stopped")

    def _uptime_seconds(self) -> float:
        return asyncio.get_running_loop().time() - self._started_loop

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            if self._heartbeats_paused:
                continue
            self._bus.emit("HEARTBEAT", self._api.heartbeat_headers())

    # -- test hooks and registrations ---------------------------------------------------------------------------

    def register(self, sip_user: str) -> None:
        """An agent's phone registers (sofia::register). A phone already registered stays as it is, silently:
        the simulator models a registration's existence, not its refreshes."""
        self._registrations.register(sip_user)

    def unregister(self, sip_user: str) -> None:
        self._registrations.unregister(sip_user)

    def registered(self) -> set[str]:
        return set(self._registrations)

    def force_outcome(self, destination: str, outcome: str) -> None:
        """The next call to `destination` ends as `outcome` (answer, busy, no_answer, voicemail, rejected,
        unallocated, no_user_response); several calls queue in order."""
        self._channels.force_outcome(destination, Outcome(outcome))

    async def drop_connections(self) -> None:
        """Abort every client socket, as a network failure would; legs carry on."""
        connections = list(self._connections)
        for connection in connections:
            connection.writer.transport.abort()
        tasks = [c.task for c in connections if c.task is not None and not c.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_SECONDS)

    def pause_heartbeats(self, paused: bool = True) -> None:
        self._heartbeats_paused = paused

    @property
    def legs(self) -> dict[str, LegState]:
        return self._channels.legs

    # -- connections --------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(writer, task=asyncio.current_task())
        self._connections.add(connection)
        decoder = CommandDecoder()
        try:
            connection.send(codec.encode_frame([("Content-Type", codec.AUTH_REQUEST)]))
            while not connection.closing:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                for command in decoder.feed(data):
                    await self._commands.execute(connection, command)
                    if connection.closing:
                        break
                await writer.drain()
        except (ConnectionError, codec.EslProtocolError) as exc:
            log.debug("sim.connection_lost", error=str(exc))
        finally:
            self._connections.discard(connection)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), SHUTDOWN_TIMEOUT_SECONDS)
