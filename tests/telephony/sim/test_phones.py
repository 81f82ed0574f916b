"""SimPhones: agents' phones registered over ESL by another process (the dialer), seen by the ESL adapter as
any registration is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from engage.core.clock import ManualClock
from engage.telephony.esl.client import EslClient
from engage.telephony.esl.switch import EslSwitch, InvalidSwitchCommand
from engage.telephony.events import RegistrationChanged, SwitchEvent
from engage.telephony.port import SwitchError
from engage.telephony.sim.phones import SimPhones
from engage.telephony.sim.server import SwitchSimulator

from ..esl.fake_server import fake_switch
from .conftest import PASSWORD

WAIT_SECONDS = 3.0


@pytest.fixture
async def client(switch: tuple[SwitchSimulator, int]) -> AsyncIterator[EslClient]:
    esl = EslClient(command_timeout_seconds=2.0, heartbeat_timeout_seconds=None)
    await asyncio.wait_for(esl.connect("127.0.0.1", switch[1], PASSWORD), WAIT_SECONDS)
    yield esl
    await esl.close()


@pytest.fixture
async def adapter(client: EslClient) -> AsyncIterator[EslSwitch]:
    esl_switch = EslSwitch(client, gateway="carrier1", clock=ManualClock(datetime(2026, 6, 12, 10, 0, tzinfo=UTC)))
    await asyncio.wait_for(esl_switch.start(), WAIT_SECONDS)
    yield esl_switch
    await esl_switch.close()


@pytest.fixture
async def phones(switch: tuple[SwitchSimulator, int]) -> AsyncIterator[SimPhones]:
    """On a connection of its own, as the dialer's would be in another process than the switch's."""
    esl = EslClient(command_timeout_seconds=2.0, heartbeat_timeout_seconds=None)
    await asyncio.wait_for(esl.connect("127.0.0.1", switch[1], PASSWORD), WAIT_SECONDS)
    yield SimPhones(esl)
    await esl.close()


async def registrations_until(
    events: AsyncIterator[SwitchEvent], done: Callable[[RegistrationChanged], bool]
) -> list[RegistrationChanged]:
    async def collect() -> list[RegistrationChanged]:
        seen: list[RegistrationChanged] = []
        async for event in events:
            if isinstance(event, RegistrationChanged):
                seen.append(event)
                if done(event):
                    return seen
        raise AssertionError(f"events ended first: {seen}")

    return await asyncio.wait_for(collect(), WAIT_SECONDS)


class TestSimPhones:
    async def test_a_registered_phone_is_a_registration_event_and_listed_by_the_switch(
        self, phones: SimPhones, adapter: EslSwitch
    ) -> None:
        await asyncio.wait_for(phones.register("agent_1001"), WAIT_SECONDS)

        seen = await registrations_until(adapter.events(), lambda e: e.sip_user == "agent_1001")

        assert [(e.sip_user, e.registered) for e in seen] == [("agent_1001", True)]
        assert await asyncio.wait_for(adapter.registrations(), WAIT_SECONDS) == {"agent_1001"}

    async def test_an_unregistered_phone_is_an_event_and_no_longer_listed(
        self, phones: SimPhones, adapter: EslSwitch
    ) -> None:
        await asyncio.wait_for(phones.register("agent_1002"), WAIT_SECONDS)
        await asyncio.wait_for(phones.unregister("agent_1002"), WAIT_SECONDS)

        seen = await registrations_until(adapter.events(), lambda e: not e.registered)

        assert [(e.sip_user, e.registered) for e in seen] == [("agent_1002", True), ("agent_1002", False)]
        assert await asyncio.wait_for(adapter.registrations(), WAIT_SECONDS) == set()

    async def test_registering_twice_is_one_registration_event(self, phones: SimPhones, adapter: EslSwitch) -> None:
        await asyncio.wait_for(phones.register("agent_1003"), WAIT_SECONDS)
        await asyncio.wait_for(phones.register("agent_1003"), WAIT_SECONDS)
        await asyncio.wait_for(phones.unregister("agent_1003"), WAIT_SECONDS)

        seen = await registrations_until(adapter.events(), lambda e: not e.registered)

        assert [e.registered for e in seen] == [True, False]

    @pytest.mark.parametrize("sip_user", ["", "agent 7", "agent7\nfoo", "a,b", "x" * 65])
    async def test_an_invalid_sip_user_is_refused_without_sending_anything(self, sip_user: str) -> None:
        # Never connected: anything sent would fail as a lost connection, not as an invalid command.
        unconnected = SimPhones(EslClient())

        with pytest.raises(InvalidSwitchCommand):
            await unconnected.register(sip_user)
        with pytest.raises(InvalidSwitchCommand):
            await unconnected.unregister(sip_user)

    async def test_freeswitch_refusing_the_simulator_command_is_a_switch_error(self) -> None:
        sent: list[str] = []

        async def freeswitch(command: str) -> str:
            # FreeSWITCH's reply to an api command it does not have.
            sent.append(command)
            return f"-ERR {command.split()[1]} Command not found!\n"

        async with fake_switch(freeswitch) as port:
            esl = EslClient(command_timeout_seconds=1.0, heartbeat_timeout_seconds=None)
            await asyncio.wait_for(esl.connect("127.0.0.1", port, PASSWORD), WAIT_SECONDS)
            try:
                with pytest.raises(SwitchError, match="Command not found"):
                    await asyncio.wait_for(SimPhones(esl).register("agent_1004"), WAIT_SECONDS)
            finally:
                await esl.close()

        assert sent == ["api sim_register agent_1004"]

    async def test_a_lost_connection_is_a_switch_error(self, switch: tuple[SwitchSimulator, int]) -> None:
        esl = EslClient(command_timeout_seconds=1.0, heartbeat_timeout_seconds=None)
        await asyncio.wait_for(esl.connect("127.0.0.1", switch[1], PASSWORD), WAIT_SECONDS)
        await esl.close()

        with pytest.raises(SwitchError):
            await SimPhones(esl).register("agent_1005")
