"""Opening the switch the settings name: the in-process simulator over a real loopback socket (telephony=sim),
FreeSWITCH at ENGAGE_ESL_HOST:PORT (telephony=esl, here a simulator standing in), and `engage serve`'s
lifespan holding it open."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from engage.config import EslSettings, Settings, SimSettings, Telephony
from engage.core.clock import ManualClock
from engage.main import create_app
from engage.telephony.connect import SwitchNotConfigured, open_switch, open_telephony
from engage.telephony.events import LegHangup, LegOutcome, RegistrationChanged
from engage.telephony.port import Originate, SwitchError
from engage.telephony.sim.server import SwitchSimulator

# Every call rings briefly and ends at once: busy for everyone.
QUICK_BUSY = SimSettings(answer_rate=0, busy_rate=1, voicemail_rate=0, ring_seconds="0.01-0.02", talk_seconds="0.01")


def sim_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"telephony": Telephony.sim, "sim": QUICK_BUSY, "data_dir": tmp_path})


class TestOpenSwitch:
    async def test_sim_starts_the_simulator_and_a_call_goes_through_the_real_client(
        self, settings: Settings, clock: ManualClock, tmp_path: Path
    ) -> None:
        async with open_switch(sim_settings(settings, tmp_path), clock) as switch:
            leg_id = str(uuid.uuid4())
            await switch.originate(
                Originate(leg_id=leg_id, destination="+971501234567", caller_id="+97142345678", timeout_seconds=5)
            )

            async def hangup() -> LegHangup:
                async for event in switch.events():
                    if isinstance(event, LegHangup) and event.leg_id == leg_id:
                        return event
                raise AssertionError("the switch closed first")

            ended = await asyncio.wait_for(hangup(), timeout=5)

        assert (ended.outcome, ended.cause) == (LegOutcome.busy, "USER_BUSY")

    async def test_esl_connects_to_the_configured_switch_with_its_password(
        self, settings: Settings, clock: ManualClock
    ) -> None:
        freeswitch = SwitchSimulator(password="s3cret-esl")
        port = await freeswitch.start()
        freeswitch.register("agent_1001")
        try:
            configured = settings.model_copy(
                update={
                    "telephony": Telephony.esl,
                    "esl": EslSettings(host="127.0.0.1", port=port, password=SecretStr("s3cret-esl")),
                }
            )
            async with open_switch(configured, clock) as switch:
                registered = await switch.registrations()
        finally:
            await freeswitch.stop()

        assert registered == {"agent_1001"}

    async def test_esl_without_a_password_is_refused(self, settings: Settings, clock: ManualClock) -> None:
        with pytest.raises(SwitchNotConfigured, match="ENGAGE_ESL_PASSWORD"):
            async with open_switch(settings.model_copy(update={"telephony": Telephony.esl}), clock):
                pass


class TestOpenTelephony:
    async def test_sim_gives_phones_whose_registrations_the_switch_reports(
        self, settings: Settings, clock: ManualClock, tmp_path: Path
    ) -> None:
        async with open_telephony(sim_settings(settings, tmp_path), clock) as telephony:
            assert telephony.phones is not None
            await asyncio.wait_for(telephony.phones.register("agent_1001"), timeout=5)

            async def registered() -> RegistrationChanged:
                async for event in telephony.switch.events():
                    if isinstance(event, RegistrationChanged):
                        return event
                raise AssertionError("the switch closed first")

            changed = await asyncio.wait_for(registered(), timeout=5)
            listed = await telephony.switch.registrations()

        assert (changed.sip_user, changed.registered) == ("agent_1001", True)
        assert listed == {"agent_1001"}

    async def test_esl_gives_no_phones_because_real_phones_register_themselves(
        self, settings: Settings, clock: ManualClock
    ) -> None:
        freeswitch = SwitchSimulator(password="s3cret-esl")
        port = await freeswitch.start()
        try:
            configured = settings.model_copy(
                update={
                    "telephony": Telephony.esl,
                    "esl": EslSettings(host="127.0.0.1", port=port, password=SecretStr("s3cret-esl")),
                }
            )
            async with open_telephony(configured, clock) as telephony:
                phones = telephony.phones
        finally:
            await freeswitch.stop()

        assert phones is None


async def test_serve_lifespan_holds_the_switch_open_and_closes_it(settings: Settings, tmp_path: Path) -> None:
    app = create_app(sim_settings(settings, tmp_path), with_switch=True)

    async with app.router.lifespan_context(app):
        registrations = await app.state.switch.registrations()

    assert registrations == set()
    with pytest.raises(SwitchError):
        await asyncio.wait_for(app.state.switch.registrations(), timeout=2)
