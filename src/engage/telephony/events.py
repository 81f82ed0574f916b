"""What the switch tells the dialer, in domain terms (no ESL vocabulary): typed events of our own call legs,
SIP registrations and the connection to the switch. The ESL adapter maps FreeSWITCH events onto these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class LegOutcome(StrEnum):
    """How a leg ended, as the calls domain records it (DESIGN.md §3)."""

    completed = "completed"
    no_answer = "no_answer"
    busy = "busy"
    failed = "failed"
    voicemail = "voicemail"


@dataclass(frozen=True, slots=True)
class LegRinging:
    leg_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LegAnswered:
    """`machine`: answering-machine detection says a machine (a voicemail box) answered, not a person."""

    leg_id: str
    at: datetime
    machine: bool = False


@dataclass(frozen=True, slots=True)
class LegBridged:
    leg_id: str
    other_leg_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LegHangup:
    """`cause` is the switch's own (e.g. NORMAL_CLEARING, USER_BUSY), kept for the call record."""

    leg_id: str
    outcome: LegOutcome
    cause: str
    at: datetime
    talk_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class RecordingStopped:
    leg_id: str
    path: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RegistrationChanged:
    sip_user: str
    registered: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class SwitchConnected:
    at: datetime


@dataclass(frozen=True, slots=True)
class SwitchDisconnected:
    at: datetime
    reason: str


SwitchEvent = (
    LegRinging
    | LegAnswered
    | LegBridged
    | LegHangup
    | RecordingStopped
    | RegistrationChanged
    | SwitchConnected
    | SwitchDisconnected
)
