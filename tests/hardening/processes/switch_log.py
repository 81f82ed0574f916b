"""What the simulated switch really dialled: every customer leg it created, by destination.

The database says what the dialer meant to do; a fault (a killed worker, a cut socket, a database gone away)
can make the two disagree, and "no number dialled twice" is only proved by counting at the switch. The log
wraps the simulator's channel factory in this process (the simulator is the test's stand-in for FreeSWITCH);
it records and delegates, changing nothing of what the switch does.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from engage.telephony.sim.server import LegState, SwitchSimulator


@dataclass
class SwitchLog:
    # Customer legs (not agents' phones) in the order the switch created them: (monotonic time, leg uuid, number).
    customer_legs: list[tuple[float, str, str]] = field(default_factory=list)

    def record(self, leg: LegState) -> None:
        if not leg.to_agent:
            self.customer_legs.append((time.monotonic(), leg.uuid, leg.destination))

    @property
    def leg_ids(self) -> list[str]:
        return [leg_id for _, leg_id, _ in self.customer_legs]

    def per_number(self) -> Counter[str]:
        return Counter(number for _, _, number in self.customer_legs)

    def dialled_since(self, instant: float) -> int:
        """Customer legs created after `instant` (a `time.monotonic()` reading)."""
        return sum(1 for at, _, _ in self.customer_legs if at > instant)


def record_dials(sim: SwitchSimulator) -> SwitchLog:
    """Start logging every leg `sim` creates from now on."""
    log = SwitchLog()
    channels = sim._channels
    create = channels.originate

    def originate(argument: str, *, job: tuple[str, str] | None) -> LegState:
        leg = create(argument, job=job)
        log.record(leg)
        return leg

    # An instance attribute shadows the method: both api and bgapi originates go through it.
    channels.originate = originate  # type: ignore[method-assign]
    return log
