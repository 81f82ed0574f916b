"""The worker applies switch events of different calls side by side, and each call's events in arrival order.

Found by `engage bench soak`: applied one after the other, each with its database transaction, the events of a
100-agent floor fell seconds behind the switch, so an agent's answer was seen after the silent-call limit and most
answered callees were abandoned. Here one call's event is held (as a slow transaction or a row lock would hold it):
another call's events must go on meanwhile, and the held call's next event must wait for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from engage.compliance.engine import Engine
from engage.core.runtime import Runtime
from engage.dialer.worker import Worker
from engage.telephony.events import LegAnswered, LegRinging, SwitchEvent

BOUND_SECONDS = 10.0


class ScriptedSwitch:
    """A switch whose event stream is the events put in `feed`, in that order."""

    def __init__(self) -> None:
        self.feed: asyncio.Queue[SwitchEvent] = asyncio.Queue()

    async def events(self) -> AsyncIterator[SwitchEvent]:
        while True:
            yield await self.feed.get()


async def test_a_held_call_holds_back_only_its_own_later_events(runtime: Runtime) -> None:
    switch = ScriptedSwitch()
    worker = Worker(
        sessions=runtime.sessions,
        switch=switch,  # type: ignore[arg-type]  # only `events()` is used here
        clock=runtime.clock,
        engine=Engine(clock=runtime.clock, budget_seconds=1.0),
    )
    release = asyncio.Event()
    applied: list[tuple[str, str]] = []
    progress = asyncio.Condition()
    locks: dict[str, asyncio.Lock] = {}

    async def apply(event: Any) -> None:
        # The flow's contract: each call's events under that call's lock, taken as the event is taken up.
        async with locks.setdefault(event.leg_id, asyncio.Lock()):
            if (event.leg_id, type(event).__name__) == ("held", "LegRinging"):
                await release.wait()
            applied.append((event.leg_id, type(event).__name__))
        async with progress:
            progress.notify_all()

    async def until_applied(count: int) -> None:
        async with asyncio.timeout(BOUND_SECONDS), progress:
            await progress.wait_for(lambda: len(applied) >= count)

    worker._flow.handle = apply  # type: ignore[method-assign]
    now = runtime.clock.now()
    for event in (
        LegRinging("held", now),
        LegRinging("free", now),
        LegAnswered("held", now),
        LegAnswered("free", now),
    ):
        switch.feed.put_nowait(event)
    consuming = asyncio.create_task(worker._consume_events())
    try:
        await until_applied(2)
        assert applied == [("free", "LegRinging"), ("free", "LegAnswered")]  # not behind the held call

        release.set()
        await until_applied(4)
        assert applied[2:] == [("held", "LegRinging"), ("held", "LegAnswered")]  # in the switch's order
    finally:
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)
