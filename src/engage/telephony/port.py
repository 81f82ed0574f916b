"""The `Switch` port: what the dialer asks of a telephony switch, in domain terms. The ESL adapter
(`telephony.esl`) implements it for FreeSWITCH and, through the same code, for the simulator."""

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

    async def start_recording(self, leg_id: str, path: str) -> None: ...

    async def stop_recording(self, leg_id: str, path: str) -> None: ...

    async def registrations(self) -> set[str]:
        """The SIP users registered now."""
        ...

    def events(self) -> AsyncIterator[SwitchEvent]:
        """Every event, in the order the switch sent them (so in order per leg)."""
        ...
