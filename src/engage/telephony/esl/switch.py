"""`EslSwitch`: the `Switch` port over one `EslClient`, for FreeSWITCH and the simulator alike.

It owns the translation both ways: port calls become ESL commands (originate through `bgapi`, the rest through
`api`), and ESL events of our own legs become domain events (`telephony.events`).

Invariants:
- Only tracked legs are reported: those we originated (by the `origination_uuid` we gave them, which is the leg
  id) and those we adopted from another process (`adopt`, when the switch still had them).
- Each tracked leg gets exactly one LegHangup, whichever comes first of CHANNEL_HANGUP_COMPLETE, a `-ERR`
  BACKGROUND_JOB of its originate, or reconciliation after a reconnection (a leg the switch no longer knows
  ends as `failed` with cause LOST_ON_RECONNECT), so no call stays active forever. After it the leg is
  forgotten and later events about it are ignored. A leg `adopt` answers False for is not tracked and gets
  none: the caller ends it.
- Events of one leg are emitted in the order the switch sent them: ESL events are mapped by one task in stream
  order; only reconciliation (which follows a reconnection, when no older event of the leg can still come)
  emits from another task.
- Values put into an originate string or an inline dialplan are validated or quoted here, never trusted: a
  `,`, `}` or `'` in a variable would otherwise rewrite the call.
- LegAnswered.machine and the `voicemail` outcome come from the same marks (VOICEMAIL_MARKER or AMD_MACHINE on
  any event of the leg up to then), so a machine answer always ends as `voicemail`.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog

from engage.core.clock import Clock

from ..events import (
    LegAnswered,
    LegBridged,
    LegHangup,
    LegOutcome,
    LegRinging,
    RecordingStopped,
    RegistrationChanged,
    SwitchConnected,
    SwitchDisconnected,
    SwitchEvent,
)
from ..port import Originate, SwitchError
from .client import EslClient, EslConnected, EslDisconnected, EslError, EslSignal
from .codec import Event

log = structlog.get_logger("engage.telephony")

# How a leg that reached a voicemail box is marked: (event header, value). The simulator's marker; a real
# deployment sets it from its answering-machine detection (e.g. an `execute_on_answer` that sets the variable).
# Kept in one place so the mapping changes here only.
VOICEMAIL_MARKER: tuple[str, str] = ("variable_engage_sim_voicemail", "true")
# What mod_amd leaves on a channel it judged a machine. It sets the variable when detection ends, which on a real
# switch may be after CHANNEL_ANSWER: then LegAnswered says person and the hangup still says voicemail.
AMD_MACHINE: tuple[str, str] = ("variable_amd_result", "MACHINE")

LOST_ON_RECONNECT = "LOST_ON_RECONNECT"

# `event plain` arguments: names, then CUSTOM and its subclasses (FreeSWITCH's syntax).
SUBSCRIPTIONS: tuple[str, ...] = (
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
    "RECORD_STOP",
    "BACKGROUND_JOB",
    "HEARTBEAT",
    "CUSTOM",
    "sofia::register",
    "sofia::unregister",
    "sofia::expire",
)

_BUSY_CAUSES = frozenset({"USER_BUSY"})
_NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"})
_REGISTERED_SUBCLASSES = frozenset({"sofia::register"})
_UNREGISTERED_SUBCLASSES = frozenset({"sofia::unregister", "sofia::expire"})

# What may appear unquoted in the originate string. FreeSWITCH splits the originate arguments on spaces, the
# `{…}` block on commas, ends it at `}`, quotes with `'` (no escape inside), and expands `${…}`: none of those
# may come from data. A comma is allowed in a value by quoting the whole value (`var='a,b'`).
_LEG_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_VARIABLE_VALUE = re.compile(r"[A-Za-z0-9_.:@+\-/=#*%~!,]*")
_NUMBER = re.compile(r"\+?[0-9]{2,20}")
SIP_USER = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_GATEWAY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_CAUSE = re.compile(r"[A-Z_]{1,64}")
_PATH = re.compile(r"[^\s'\"{}$]{1,1024}")
# Inside an inline dialplan a comma starts the next application and a backslash escapes the next character
# (switch_separate_string): a message path may hold neither.
_INLINE_UNSAFE = frozenset(",\\")
# Variables the adapter sets itself: a caller may not override them through `variables`.
_RESERVED = frozenset({"origination_uuid", "origination_caller_id_number", "originate_timeout", "ignore_early_media"})


class InvalidSwitchCommand(SwitchError, ValueError):
    """A value that cannot be put safely into a switch command; nothing was sent."""


def outcome_for(cause: str, *, answered: bool, voicemail: bool) -> LegOutcome:
    """The domain outcome of a leg's end (DESIGN.md §3): after an answer the call happened, whatever the cause
    of its end; before it, the cause tells busy from no answer from failure."""
    if answered:
        return LegOutcome.voicemail if voicemail else LegOutcome.completed
    if cause in _BUSY_CAUSES:
        return LegOutcome.busy
    if cause in _NO_ANSWER_CAUSES:
        return LegOutcome.no_answer
    return LegOutcome.failed


def _variable(name: str, value: str) -> str:
    if not _VARIABLE_NAME.fullmatch(name):
        raise InvalidSwitchCommand(f"variable name {name!r} is not allowed in an originate")
    if not _VARIABLE_VALUE.fullmatch(value):
        raise InvalidSwitchCommand(f"variable {name!r} has characters not allowed in an originate")
    return f"{name}='{value}'" if "," in value else f"{name}={value}"


def originate_command(request: Originate, *, gateway: str) -> str:
    """The `originate` arguments for `bgapi`: the leg parks on answer, waiting for the dialer to bridge it."""
    if not _LEG_ID.fullmatch(request.leg_id):
        raise InvalidSwitchCommand("a leg id is letters, digits and dashes")
    if not _NUMBER.fullmatch(request.caller_id):
        raise InvalidSwitchCommand("a caller id is digits with an optional leading +")
    if not 1 <= request.timeout_seconds <= 600:
        raise InvalidSwitchCommand("an originate timeout is between 1 and 600 seconds")
    if request.to_agent:
        sip_user = request.destination.removeprefix("user/")
        if not SIP_USER.fullmatch(sip_user):
            raise InvalidSwitchCommand("not a SIP user name")
        dial = f"user/{sip_user}"
    else:
        if not _NUMBER.fullmatch(request.destination):
            raise InvalidSwitchCommand("a destination is digits with an optional leading +")
        dial = f"sofia/gateway/{gateway}/{request.destination}"
    reserved = _RESERVED.intersection(request.variables)
    if reserved:
        raise InvalidSwitchCommand(f"variables set by the adapter itself: {sorted(reserved)}")
    variables = [
        _variable("origination_uuid", request.leg_id),
        _variable("origination_caller_id_number", request.caller_id),
        _variable("originate_timeout", str(request.timeout_seconds)),
        # The dialer judges a leg by its answer, not by early media (ringback or carrier announcements).
        "ignore_early_media=true",
        *(_variable(name, value) for name, value in request.variables.items()),
    ]
    return f"originate {{{','.join(variables)}}}{dial} &park()"


def parse_registrations(text: str) -> set[str]:
    """The `reg_user` column of `show registrations` (CSV with a header line, then an `N total.` line)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("reg_user"):
        return set()
    rows = [line for line in lines[1:] if not re.fullmatch(r"\d+ total\.", line.strip())]
    reader = csv.DictReader([lines[0], *rows])
    return {row["reg_user"] for row in reader if row.get("reg_user")}


@dataclass(slots=True)
class _Leg:
    job_uuid: str | None = None  # None for an adopted leg: its originate was another process's job
    ringing: bool = False
    answered: bool = False
    voicemail: bool = False
    bridged_with: str | None = None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


class EslSwitch:
    """`Switch` for FreeSWITCH. Call `start()` once the client is connected, `close()` at the end (the client
    is the caller's to close)."""

    def __init__(
        self,
        client: EslClient,
        *,
        gateway: str,
        clock: Clock,
        voicemail_marker: tuple[str, str] = VOICEMAIL_MARKER,
        max_queued_events: int = 10_000,
    ) -> None:
        if not _GATEWAY.fullmatch(gateway):
            raise ValueError("a gateway name is letters, digits, dots, dashes and underscores")
        self._client = client
        self._gateway = gateway
        self._clock = clock
        self._voicemail_marker = voicemail_marker
        # Bounded like the client's queue, for the same reason (see client.py): when the dialer falls behind,
        # the pump waits, the client's queue fills, and TCP pushes back onto the switch.
        self._out: asyncio.Queue[SwitchEvent | None] = asyncio.Queue(maxsize=max_queued_events)
        self._legs: dict[str, _Leg] = {}
        self._jobs: dict[str, str] = {}  # Job-UUID of an originate → its leg id
        self._registered: set[str] = set()
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self) -> None:
        """Subscribe, start mapping events, and report who is registered now (one RegistrationChanged each)."""
        if self._pump is not None:
            raise RuntimeError("already started")
        self._pump = asyncio.create_task(self._run_pump(), name="esl-switch-pump")
        try:
            await self._client.subscribe(SUBSCRIPTIONS)
            await self._sync_registrations()
        except EslError as exc:
            raise SwitchError(f"cannot start on the switch: {exc}") from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = [*self._tasks, *([self._pump] if self._pump else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while not self._out.empty():
            self._out.get_nowait()
        self._out.put_nowait(None)

    @property
    def active_legs(self) -> frozenset[str]:
        """The legs we track (originated or adopted) and have not seen end."""
        return frozenset(self._legs)

    # -- the port --------------------------------------------------------------------------------------------

    async def originate(self, request: Originate) -> None:
        """Sends `bgapi originate …` and returns when the switch accepted the job: the job's result comes only
        when the leg answers or fails, which is the events' business, not this call's."""
        command = originate_command(request, gateway=self._gateway)
        if request.leg_id in self._legs:
            raise InvalidSwitchCommand("this leg id is already in use")
        # Leg and job are tracked before sending: the switch may fail the job at once (an unknown gateway
        # creates no channel) and its BACKGROUND_JOB be mapped before this coroutine resumes.
        job = str(uuid.uuid4())
        self._legs[request.leg_id] = _Leg(job_uuid=job)
        self._jobs[job] = request.leg_id
        try:
            await self._client.bgapi_start(command, job_uuid=job)
        except EslError as exc:
            # Not confirmed: forget the leg (its events, if the switch did start it, are then ignored).
            self._legs.pop(request.leg_id, None)
            self._jobs.pop(job, None)
            log.warning("esl.originate_failed", leg_id=request.leg_id, error=f"{type(exc).__name__}: {exc}")
            raise SwitchError(f"originate refused: {exc}") from exc
        log.info("esl.originated", leg_id=request.leg_id, destination=request.destination, job_uuid=job)

    async def bridge(self, leg_id: str, other_leg_id: str) -> None:
        await self._api(f"uuid_bridge {self._leg(leg_id)} {self._leg(other_leg_id)}")

    async def hangup(self, leg_id: str, cause: str = "NORMAL_CLEARING") -> None:
        if not _CAUSE.fullmatch(cause):
            raise InvalidSwitchCommand("a hangup cause is upper-case letters and underscores")
        await self._api(f"uuid_kill {self._leg(leg_id)} {cause}")

    async def play_and_hangup(self, leg_id: str, path: str) -> None:
        """Moves the leg out of its park or bridge into an inline dialplan that plays the file, then hangs up
        with NORMAL_CLEARING; that hangup comes back as the leg's LegHangup."""
        await self._api(f"uuid_transfer {self._leg(leg_id)} 'playback:{self._message_path(path)},hangup' inline")

    async def exists(self, leg_id: str) -> bool:
        return (await self._api(f"uuid_exists {self._leg(leg_id)}")).strip() == "true"

    async def adopt(self, leg_id: str, *, answered: bool) -> bool:
        """Tracks a leg another process originated (a worker taking over a dead worker's calls).

        The leg is tracked before the switch is asked about it: an event of the leg that follows the question
        on the wire is then mapped, not dropped. If the switch no longer has it, it is forgotten again (its
        CHANNEL_HANGUP_COMPLETE, if still queued, is then ignored) and the answer is False. If its hangup was
        mapped while we asked, its LegHangup is out and the answer is True."""
        self._leg(leg_id)
        if leg_id in self._legs:
            return True
        leg = _Leg(answered=answered)
        self._legs[leg_id] = leg
        try:
            alive = (await self._client.api(f"uuid_exists {leg_id}")).strip() == "true"
        except EslError as exc:
            if self._legs.get(leg_id) is not leg:
                return True
            del self._legs[leg_id]
            raise SwitchError(f"uuid_exists: {exc}") from exc
        if alive or self._legs.get(leg_id) is not leg:
            log.info("esl.adopted", leg_id=leg_id, answered=answered, alive=alive)
            return True
        del self._legs[leg_id]
        log.info("esl.adopt_gone", leg_id=leg_id)
        return False

    async def start_recording(self, leg_id: str, path: str) -> None:
        await self._api(f"uuid_record {self._leg(leg_id)} start {self._path(path)}")

    async def stop_recording(self, leg_id: str, path: str) -> None:
        await self._api(f"uuid_record {self._leg(leg_id)} stop {self._path(path)}")

    async def registrations(self) -> set[str]:
        return parse_registrations(await self._api("show registrations"))

    async def events(self) -> AsyncIterator[SwitchEvent]:
        """Domain events in switch order; ends after `close()`."""
        while True:
            event = await self._out.get()
            if event is None:
                self._out.put_nowait(None)
                return
            yield event

    # -- helpers ---------------------------------------------------------------------------------------------

    @staticmethod
    def _leg(leg_id: str) -> str:
        if not _LEG_ID.fullmatch(leg_id):
            raise InvalidSwitchCommand("a leg id is letters, digits and dashes")
        return leg_id

    @staticmethod
    def _path(path: str) -> str:
        if not _PATH.fullmatch(path):
            raise InvalidSwitchCommand("a file path has no spaces, quotes, braces or $")
        return path

    @classmethod
    def _message_path(cls, path: str) -> str:
        if _INLINE_UNSAFE.intersection(path):
            raise InvalidSwitchCommand("a message path has no commas or backslashes")
        return cls._path(path)

    async def _api(self, command: str) -> str:
        try:
            return await self._client.api(command)
        except EslError as exc:
            raise SwitchError(f"{command.split(' ', 1)[0]}: {exc}") from exc

    async def _emit(self, event: SwitchEvent) -> None:
        await self._out.put(event)

    # -- ESL → domain ----------------------------------------------------------------------------------------

    async def _run_pump(self) -> None:
        async for signal in self._client.signals():
            await self._handle(signal)

    async def _handle(self, signal: EslSignal) -> None:
        now = self._clock.now()
        if isinstance(signal, EslConnected):
            await self._emit(SwitchConnected(at=now))
            if signal.reconnected:
                # Its own task: reconciling awaits commands, whose replies may be queued behind events this
                # task must keep draining (see client.py on backpressure).
                task = asyncio.create_task(self._reconcile(), name="esl-switch-reconcile")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return
        if isinstance(signal, EslDisconnected):
            await self._emit(SwitchDisconnected(at=now, reason=signal.reason))
            return
        await self._map(signal)

    async def _map(self, event: Event) -> None:
        at = self._clock.now()
        name = event.name
        if name == "CUSTOM":
            await self._map_registration(event)
            return
        if name == "BACKGROUND_JOB":
            await self._map_job(event)
            return
        leg_id = event.get("Unique-ID") or ""
        leg = self._legs.get(leg_id)
        if name == "CHANNEL_BRIDGE":
            await self._map_bridge(event)
            return
        if leg is None:
            return
        if self._is_machine(event):
            leg.voicemail = True
        if name in ("CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA"):
            if not leg.ringing and not leg.answered:
                leg.ringing = True
                await self._emit(LegRinging(leg_id=leg_id, at=at))
        elif name == "CHANNEL_ANSWER":
            if not leg.answered:
                leg.answered = True
                await self._emit(LegAnswered(leg_id=leg_id, at=at, machine=leg.voicemail))
        elif name == "CHANNEL_HANGUP_COMPLETE":
            cause = event.get("Hangup-Cause") or event.get("variable_hangup_cause") or "NORMAL_CLEARING"
            billsec = _int(event.get("variable_billsec"))
            # An answer we missed (while disconnected) still shows in the channel's own timestamps.
            answered = leg.answered or (_int(event.get("variable_answer_epoch")) or 0) > 0 or (billsec or 0) > 0
            await self._end(
                leg_id,
                outcome_for(cause, answered=answered, voicemail=leg.voicemail),
                cause,
                talk_seconds=billsec if answered else None,
            )
        elif name == "RECORD_STOP":
            path = event.get("Record-File-Path") or event.get("variable_record_file_path") or ""
            await self._emit(RecordingStopped(leg_id=leg_id, path=path, at=at))

    def _is_machine(self, event: Event) -> bool:
        return any(event.get(header) == value for header, value in (self._voicemail_marker, AMD_MACHINE))

    async def _map_bridge(self, event: Event) -> None:
        at = self._clock.now()
        a = event.get("Unique-ID") or event.get("Bridge-A-Unique-ID") or ""
        b = event.get("Other-Leg-Unique-ID") or event.get("Bridge-B-Unique-ID") or ""
        for leg_id, other in ((a, b), (b, a)):
            leg = self._legs.get(leg_id)
            if leg is not None and other and leg.bridged_with != other:
                leg.bridged_with = other
                await self._emit(LegBridged(leg_id=leg_id, other_leg_id=other, at=at))

    async def _map_job(self, event: Event) -> None:
        leg_id = self._jobs.pop(event.get("Job-UUID") or "", None)
        if leg_id is None or leg_id not in self._legs:
            return
        body = (event.body or "").strip()
        if body.startswith("-ERR"):
            # The originate failed and no CHANNEL_HANGUP_COMPLETE came first (some failures create no channel).
            cause = body.removeprefix("-ERR").strip().split()[0] if body != "-ERR" else "UNKNOWN"
            leg = self._legs[leg_id]
            await self._end(leg_id, outcome_for(cause, answered=False, voicemail=leg.voicemail), cause)

    async def _map_registration(self, event: Event) -> None:
        subclass = event.get("Event-Subclass") or ""
        if subclass in _REGISTERED_SUBCLASSES:
            registered = True
        elif subclass in _UNREGISTERED_SUBCLASSES:
            registered = False
        else:
            return
        user = event.get("from-user") or event.get("username") or ""
        if not user:
            return
        if registered:
            self._registered.add(user)
        else:
            self._registered.discard(user)
        await self._emit(RegistrationChanged(sip_user=user, registered=registered, at=self._clock.now()))

    async def _end(self, leg_id: str, outcome: LegOutcome, cause: str, *, talk_seconds: int | None = None) -> None:
        leg = self._legs.pop(leg_id, None)
        if leg is None:
            return
        if leg.job_uuid is not None:
            self._jobs.pop(leg.job_uuid, None)
        log.info("esl.leg_ended", leg_id=leg_id, outcome=str(outcome), cause=cause)
        await self._emit(
            LegHangup(leg_id=leg_id, outcome=outcome, cause=cause, at=self._clock.now(), talk_seconds=talk_seconds)
        )

    # -- after a reconnection --------------------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """What we missed while away: legs that ended, registrations that changed."""
        ended = 0
        for leg_id in list(self._legs):
            try:
                exists = (await self._client.api(f"uuid_exists {leg_id}")).strip() == "true"
            except EslError as exc:
                # The next reconnection reconciles again.
                log.warning("esl.reconcile_failed", leg_id=leg_id, error=f"{type(exc).__name__}: {exc}")
                return
            if not exists and leg_id in self._legs:
                ended += 1
                await self._end(leg_id, LegOutcome.failed, LOST_ON_RECONNECT)
        with contextlib.suppress(EslError):
            await self._sync_registrations()
        log.info("esl.reconciled", legs_ended=ended, legs_active=len(self._legs))

    async def _sync_registrations(self) -> None:
        now_registered = parse_registrations(await self._client.api("show registrations"))
        for user in sorted(now_registered - self._registered):
            self._registered.add(user)
            await self._emit(RegistrationChanged(sip_user=user, registered=True, at=self._clock.now()))
        for user in sorted(self._registered - now_registered):
            self._registered.discard(user)
            await self._emit(RegistrationChanged(sip_user=user, registered=False, at=self._clock.now()))
