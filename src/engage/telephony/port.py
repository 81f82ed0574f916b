"""The `Switch` port: what the dialer asks of a telephony switch, in domain terms. The ESL adapter
(`telephony.esl`) implements it for FreeSWITCH and, through the same code, for the simulator.

The `Phones` port: registering agents' SIP phones, which only the simulator needs (real phones register
themselves); the dialer keeps "an agent's SIP user counts as registered while the agent is not offline"
(DESIGN.md §2) true through it when telephony is sim."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .events import SwitchEvent


@dataclass(frozen=True, slots=True)
class Originate:
    """A new leg with our own id. `destination` is an E.164 number (sent through the gateway) or an agent's
    SIP user (`user/<sip_user>`, answered by the agent's phone)."""

    leg_id: str
    destination: str
    caller_id: str
    timeout_seconds: int
    variables: Mapping[str, str] = field(default_factory=dict)
    to_agent: bool = False


class SwitchError(Exception):
    """The switch refused or failed a command (its own words in the message)."""


class Switch(Protocol):
    async def originate(self, request: Originate) -> None:
        """Start the leg; its progress arrives as events. Raises SwitchError if the switch refuses it."""
        ...

    async def bridge(self, leg_id: str, other_leg_id: str) -> None: ...

    async def hangup(self, leg_id: str, cause: str = "NORMAL_CLEARING") -> None: ...

    async def play_and_hangup(self, leg_id: str, path: str) -> None:
        """Play the message at `path` to the leg, then hang it up (its LegHangup follows as an event)."""
        ...

    async def exists(self, leg_id: str) -> bool:
        """Whether the switch has this leg now (ours or not)."""
        ...

    async def adopt(self, leg_id: str, *, answered: bool) -> bool:
        """Report a leg another process originated as if it were ours from now on (its later answer, bridge,
        recording stop and its one LegHangup). `answered` says whether it was answered already. False, and
        nothing reported, when the switch no longer has it; True without change when it is tracked already."""
        ...

    async def start_recording(self, leg_id: str, path: str) -> None: ...

    async def stop_recording(self, leg_id: str, path: str) -> None: ...

    async def registrations(self) -> set[str]:
        """The SIP users registered now."""
        ...

    def events(self) -> AsyncIterator[SwitchEvent]:
        """Every event, in the order the switch sent them (so in order per leg)."""
        ...


class Phones(Protocol):
    """Agents' SIP phones registering with the switch (the simulator's; real phones register themselves)."""

    async def register(self, sip_user: str) -> None: ...

    async def unregister(self, sip_user: str) -> None: ...
