"""The ESL client against the switch simulator: authentication, commands, background jobs, heartbeats and
reconnection."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from engage.telephony.esl.client import (
    Backoff,
    EslAuthError,
    EslClient,
    EslCommandError,
    EslConnected,
    EslConnectionLost,
    EslDisconnected,
    EslSignal,
)
from engage.telephony.esl.codec import Event
from engage.telephony.sim.server import SwitchSimulator

from .conftest import PASSWORD, WAIT_SECONDS
from .fake_server import fake_switch


async def _next_signal(client: EslClient, kind: type[EslConnected | EslDisconnected | Event]) -> EslSignal:
    async def find() -> EslSignal:
        async for signal in client.signals():
            if isinstance(signal, kind):
                return signal
        raise AssertionError("signals ended")

    return await asyncio.wait_for(find(), WAIT_SECONDS)


class TestAuthentication:
    async def test_a_wrong_password_raises_esl_auth_error(self, sim_port: int) -> None:
        client = EslClient()
        with pytest.raises(EslAuthError):
            await asyncio.wait_for(client.connect("127.0.0.1", sim_port, "not-the-password"), WAIT_SECONDS)
        await client.close()

    async def test_the_password_is_not_in_the_clients_repr_or_errors(self, sim_port: int) -> None:
        client = EslClient()
        with pytest.raises(EslAuthError) as raised:
            await asyncio.wait_for(client.connect("127.0.0.1", sim_port, "s3cret-pw"), WAIT_SECONDS)
        await client.close()

        assert "s3cret-pw" not in str(raised.value)


class TestCommands:
    async def test_api_returns_the_body_and_commands_are_answered_in_order(self, client: EslClient) -> None:
        missing = str(uuid.uuid4())

        replies = await asyncio.wait_for(
            asyncio.gather(*(client.api(f"uuid_exists {missing}") for _ in range(20)), client.api("show channels")),
            WAIT_SECONDS,
        )

        assert [r.strip() for r in replies[:20]] == ["false"] * 20
        assert replies[20].strip().endswith("0 total.")

    async def test_api_minus_err_raises_esl_command_error(self, client: EslClient) -> None:
        with pytest.raises(EslCommandError):
            await asyncio.wait_for(client.api(f"uuid_kill {uuid.uuid4()}"), WAIT_SECONDS)

    async def test_a_failed_background_job_raises_with_the_switchs_cause(
        self, client: EslClient, sim: SwitchSimulator
    ) -> None:
        sim.force_outcome("+971501119999", "busy")
        with pytest.raises(EslCommandError) as raised:
            await client.bgapi("originate {originate_timeout=5}sofia/gateway/carrier1/+971501119999 &park()")

        assert raised.value.reason.startswith("USER_BUSY")

    async def test_a_successful_background_job_returns_its_body(self, client: EslClient, sim: SwitchSimulator) -> None:
        sim.force_outcome("+971501119998", "answer")
        leg = str(uuid.uuid4())

        body = await client.bgapi(f"originate {{origination_uuid={leg}}}sofia/gateway/carrier1/+971501119998 &park()")

        assert body == f"+OK {leg}"


class TestConnectionLoss:
    async def test_a_pending_command_fails_with_connection_lost_when_the_socket_drops(self) -> None:
        async def close_on_command(_: str) -> str | None:
            raise ConnectionResetError

        async with fake_switch(close_on_command) as port:
            client = EslClient(command_timeout_seconds=2.0, backoff=Backoff(initial_seconds=5.0))
            try:
                await asyncio.wait_for(client.connect("127.0.0.1", port, "pw"), WAIT_SECONDS)
                with pytest.raises(EslConnectionLost):
                    await asyncio.wait_for(client.api("status"), WAIT_SECONDS)
                with pytest.raises(EslConnectionLost):
                    await client.api("status")  # while away: at once, not after a time-out
            finally:
                await client.close()

    async def test_a_dropped_socket_is_reconnected_and_the_subscriptions_restored(
        self, client: EslClient, sim: SwitchSimulator
    ) -> None:
        await client.subscribe(["CUSTOM", "sofia::register"])

        await sim.drop_connections()
        lost = await _next_signal(client, EslDisconnected)
        back = await _next_signal(client, EslConnected)
        sim.register("agent9")
        registered = await _next_signal(client, Event)

        assert isinstance(lost, EslDisconnected)
        assert back == EslConnected(reconnected=True)
        assert registered.get("Event-Subclass") == "sofia::register"  # type: ignore[union-attr]

    async def test_silence_longer_than_the_heartbeat_timeout_is_a_lost_connection(
        self, sim: SwitchSimulator, sim_port: int
    ) -> None:
        client = EslClient(heartbeat_timeout_seconds=0.3, backoff=Backoff(initial_seconds=0.02, max_seconds=0.05))
        try:
            await asyncio.wait_for(client.connect("127.0.0.1", sim_port, PASSWORD), WAIT_SECONDS)
            await client.subscribe(["HEARTBEAT"])
            sim.pause_heartbeats()
            lost = await _next_signal(client, EslDisconnected)
            sim.pause_heartbeats(False)
            back = await _next_signal(client, EslConnected)
        finally:
            await client.close()

        assert "heartbeat" in lost.reason  # type: ignore[union-attr]
        assert back == EslConnected(reconnected=True)

    async def test_close_leaves_no_task_behind(self, sim_port: int) -> None:
        client = EslClient(heartbeat_timeout_seconds=0.3)
        await asyncio.wait_for(client.connect("127.0.0.1", sim_port, PASSWORD), WAIT_SECONDS)
        await client.subscribe(["HEARTBEAT"])

        await client.close()

        assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("esl")] == []
