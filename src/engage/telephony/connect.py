"""Opening the switch the settings name: `telephony=sim` starts the simulator in this process on a loopback
port, with a password made for this run, and connects the ESL client to it over TCP, so the production code
path is the one that runs; `telephony=esl` connects to FreeSWITCH at `ENGAGE_ESL_HOST:PORT`.

`open_telephony` also hands out the agents' phones when telephony is sim (`SimPhones`, on the same ESL client);
with FreeSWITCH there are none, real phones register themselves.

Until the dialer consumes the switch's events, `drain` logs them so the bounded queues never fill."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import structlog

from engage.config import Settings
from engage.config import Telephony as TelephonyKind
from engage.core.clock import Clock
from engage.core.errors import BadRequest

from .esl.client import EslClient
from .esl.switch import EslSwitch
from .port import Phones, Switch
from .sim.phones import SimPhones
from .sim.server import Behaviour, SwitchSimulator

log = structlog.get_logger("engage.telephony")

LOOPBACK = "127.0.0.1"


class SwitchNotConfigured(BadRequest):
    slug = "esl-not-configured"
    title = "The switch is not configured"


@dataclass(frozen=True, slots=True)
class Telephony:
    """What the composition roots hand the dialer: the switch, and the agents' phones when they are simulated."""

    switch: EslSwitch
    phones: Phones | None


@asynccontextmanager
async def open_telephony(settings: Settings, clock: Clock) -> AsyncIterator[Telephony]:
    async with AsyncExitStack() as stack:
        simulated = settings.telephony is TelephonyKind.sim
        if simulated:
            password = secrets.token_urlsafe(24)
            simulator = SwitchSimulator(
                password=password,
                behaviour=Behaviour.from_settings(settings.sim),
                recordings_dir=settings.data_dir / "recordings",
            )
            host, port = LOOPBACK, await simulator.start(LOOPBACK, 0)
            stack.push_async_callback(simulator.stop)
            log.info("sim.started", host=host, port=port)
        else:
            if settings.esl.password is None:
                raise SwitchNotConfigured("ENGAGE_TELEPHONY=esl needs ENGAGE_ESL_PASSWORD (FreeSWITCH's event socket).")
            host, port, password = settings.esl.host, settings.esl.port, settings.esl.password.get_secret_value()
        client = EslClient()
        await client.connect(host, port, password)
        stack.push_async_callback(client.close)
        switch = EslSwitch(client, gateway=settings.esl.gateway, clock=clock)
        stack.push_async_callback(switch.close)
        await switch.start()
        log.info("switch.connected", telephony=settings.telephony.value, host=host, port=port)
        yield Telephony(switch=switch, phones=SimPhones(client) if simulated else None)


@asynccontextmanager
async def open_switch(settings: Settings, clock: Clock) -> AsyncIterator[EslSwitch]:
    """The switch alone, for callers that have no phones to keep registered."""
    async with open_telephony(settings, clock) as telephony:
        yield telephony.switch


async def drain(switch: Switch) -> None:
    """Log every event (debug) until the switch closes: the stand-in consumer before the dialer exists."""
    async for event in switch.events():
        log.debug("switch.event", kind=type(event).__name__)
