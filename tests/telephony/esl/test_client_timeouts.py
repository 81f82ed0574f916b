"""Time-outs of the ESL client against a raw server that stays silent or answers late."""

from __future__ import annotations

import asyncio

import pytest

from engage.telephony.esl.client import EslClient, EslTimeout

from .fake_server import fake_switch


async def _never(_: str) -> str | None:
    return None


class TestTimeouts:
    async def test_a_command_the_switch_never_answers_raises_esl_timeout(self) -> None:
        async with fake_switch(_never) as port:
            client = EslClient(command_timeout_seconds=0.2)
            try:
                await asyncio.wait_for(client.connect("127.0.0.1", port, "pw"), 2)
                with pytest.raises(EslTimeout):
                    await asyncio.wait_for(client.api("status"), 2)
            finally:
                await client.close()

    async def test_a_server_that_never_asks_for_auth_times_the_connect_out(self) -> None:
        async with fake_switch(_never, send_auth_request=False) as port:
            client = EslClient(connect_timeout_seconds=0.2)
            with pytest.raises(EslTimeout):
                await asyncio.wait_for(client.connect("127.0.0.1", port, "pw"), 2)
            await client.close()

    async def test_a_late_reply_is_absorbed_by_the_timed_out_command_not_given_to_the_next(self) -> None:
        async def late_first(command: str) -> str:
            if command == "api first":
                await asyncio.sleep(0.3)
            return command.removeprefix("api ")

        async with fake_switch(late_first) as port:
            client = EslClient(command_timeout_seconds=0.1)
            try:
                await asyncio.wait_for(client.connect("127.0.0.1", port, "pw"), 2)
                with pytest.raises(EslTimeout):
                    await client.api("first")
                second = await asyncio.wait_for(client.api("second", timeout_seconds=2), 3)
            finally:
                await client.close()

        assert second == "second"


class TestCloseDuringReconnection:
    async def test_a_cancelled_reconnection_stops_while_it_waits_for_the_old_reader_to_end(self) -> None:
        """`close()` cancels the supervisor; if that lands while a failed reconnection waits for its reader to
        stop, the cancellation must end the supervisor (it used to be swallowed, and `close()` waited forever)."""
        client = EslClient()
        stopping = asyncio.Event()

        async def slow_to_stop() -> str:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                stopping.set()
                await asyncio.sleep(0.2)  # a reader that takes a moment to wind down
                raise
            return "never"

        client._read_task = asyncio.create_task(slow_to_stop())
        discarding = asyncio.create_task(client._discard_connection("auth refused"))
        await asyncio.wait_for(stopping.wait(), 2)
        discarding.cancel()

        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(discarding, 2)
        assert discarding.cancelled()
