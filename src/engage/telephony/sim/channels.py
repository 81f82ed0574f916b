"""The simulated switch's live channels: originating a leg, driving it through ringing, answer and hang-up on
its own task, and what commands do to a live leg (uuid_kill, uuid_bridge, uuid_transfer, uuid_record).

Invariants:
- One task per live leg (none for a leg that fails before it exists), and no per-leg timers but one for a leg
  playing its message before an inline hangup.
- Randomness comes from one `random.Random(seed)`, four draws per originate in order, so a seeded run repeats
  given the same sequence of originates. Delays are asyncio sleeps; the wall clock is read only for timestamps.
- A leg is in `legs` from its CHANNEL_CREATE until just before its CHANNEL_DESTROY.

`uuid_transfer` is modelled for one destination only, an inline dialplan that plays a message and hangs up
(`'playback:<path>,hangup' inline`): the leg hangs up `message_seconds` later. Any other transfer of a live leg
answers +OK and changes nothing. Leniency (so tests stay fast): `originate_timeout` accepts fractional seconds
(FreeSWITCH reads an integer).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import structlog

from .behaviour import Behaviour
from .events import EventBus
from .legs import (
    CS_CONSUME_MEDIA,
    CS_DESTROY,
    CS_EXCHANGE_MEDIA,
    CS_EXECUTE,
    CS_HANGUP,
    CS_INIT,
    CS_REPORTING,
    DEFAULT_ORIGINATE_TIMEOUT_SECONDS,
    FAILURE_CAUSE,
    TRANSFER_USAGE,
    LegState,
    OriginateError,
    Outcome,
    Recording,
    cdr_headers,
    parse_originate,
    parse_transfer,
)
from .protocol import now_us
from .recording import write_wav
from .registrations import Registrations

log = structlog.get_logger("engage.sim")


class Channels:
    def __init__(
        self,
        *,
        bus: EventBus,
        registrations: Registrations,
        behaviour: Behaviour,
        recordings_dir: Path | None,
        message_seconds: float,
    ) -> None:
        self._bus = bus
        self._registrations = registrations
        self._behaviour = behaviour
        self._recordings_dir = recordings_dir
        # How long a message played before an inline hangup lasts (uuid_transfer 'playback:…,hangup' inline).
        self._message_seconds = message_seconds
        self._rng = random.Random(behaviour.seed)  # noqa: S311 - simulation, not security
        self._forced: dict[str, deque[Outcome]] = {}
        self.legs: dict[str, LegState] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.sessions_since_startup = 0
        self.peak_sessions = 0

    def force_outcome(self, destination: str, outcome: Outcome) -> None:
        self._forced.setdefault(destination, deque()).append(outcome)

    def cancel_timers(self) -> None:
        for leg in self.legs.values():
            if leg.message_timer is not None:
                leg.message_timer.cancel()

    # -- originate ----------------------------------------------------------------------------------------------

    def _draw(self, destination: str) -> tuple[Outcome, float, float, float]:
        behaviour = self._behaviour
        # Four draws for every originate, forced or not, so that forcing one call leaves the others' draws alone.
        roll = self._rng.random()
        ring = self._rng.uniform(*behaviour.ring_seconds)
        talk = self._rng.uniform(*behaviour.talk_seconds)
        low = behaviour.talk_seconds[0]
        voicemail_talk = self._rng.uniform(low / 2, low)
        forced = self._forced.get(destination)
        if forced:
            outcome = forced.popleft()
            if not forced:
                del self._forced[destination]
        elif roll < behaviour.answer_rate:
            outcome = Outcome.answer
        elif roll < behaviour.answer_rate + behaviour.busy_rate:
            outcome = Outcome.busy
        elif roll < behaviour.answer_rate + behaviour.busy_rate + behaviour.voicemail_rate:
            outcome = Outcome.voicemail
        else:
            outcome = Outcome.no_answer
        return outcome, ring, talk, voicemail_talk

    def originate(self, argument: str, *, job: tuple[str, str] | None) -> LegState:
        """Create the leg and start its task; `OriginateError` (its text the api reply) when it cannot exist."""
        request = parse_originate(argument)
        variables = request.variables
        if request.to_agent and request.destination not in self._registrations:
            raise OriginateError("-ERR SUBSCRIBER_ABSENT\n")
        leg_uuid = variables.get("origination_uuid") or str(uuid.uuid4())
        if leg_uuid in self.legs:
            raise OriginateError("-ERR DESTINATION_OUT_OF_ORDER\n")
        outcome, ring, talk, voicemail_talk = self._draw(request.destination)
        try:
            timeout = float(variables.get("originate_timeout", DEFAULT_ORIGINATE_TIMEOUT_SECONDS))
        except ValueError:
            timeout = DEFAULT_ORIGINATE_TIMEOUT_SECONDS
        if timeout <= 0:
            timeout = DEFAULT_ORIGINATE_TIMEOUT_SECONDS
        loop = asyncio.get_running_loop()
        caller_number = variables.get("origination_caller_id_number", "0000000000")
        leg = LegState(
            uuid=leg_uuid,
            endpoint=request.endpoint,
            destination=request.destination,
            caller_id_number=caller_number,
            caller_id_name=variables.get("origination_caller_id_name", caller_number),
            variables=dict(variables),
            to_agent=request.to_agent,
            outcome=Outcome.answer if request.to_agent else outcome,
            ring_seconds=ring,
            talk_seconds=voicemail_talk if outcome is Outcome.voicemail else talk,
            originate_timeout_seconds=timeout,
            created_us=now_us(),
            created_loop=loop.time(),
            application=request.application,
            kill=loop.create_future(),
            result=loop.create_future(),
            job=job,
        )
        self.legs[leg_uuid] = leg
        self.sessions_since_startup += 1
        self.peak_sessions = max(self.peak_sessions, len(self.legs))
        task = asyncio.create_task(self._run_leg(leg), name=f"sim-leg-{leg_uuid}")
        self.tasks.add(task)
        task.add_done_callback(self._leg_done)
        return leg

    def _leg_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sim.leg_failed", error=repr(task.exception()))

    # -- a leg's life -------------------------------------------------------------------------------------------

    @staticmethod
    async def _hold(leg: LegState, seconds: float) -> str | None:
        """Wait `seconds`, or less if the leg is killed: then the kill's cause."""
        if not leg.kill.done():
            await asyncio.wait((leg.kill,), timeout=seconds)
        return leg.kill.result() if leg.kill.done() else None

    @staticmethod
    def _killed(leg: LegState) -> str | None:
        return leg.kill.result() if leg.kill.done() else None

    def kill(self, leg: LegState, cause: str) -> None:
        if not leg.kill.done():
            leg.kill.set_result(cause)

    async def _run_leg(self, leg: LegState) -> None:
        self._bus.emit_channel("CHANNEL_CREATE", leg, CS_INIT)
        cause: str | None
        if leg.to_agent:
            # An agent's registered phone answers at once (DESIGN.md §2).
            await asyncio.sleep(0)
            cause = self._killed(leg)
            if cause is None:
                self._answer(leg)
                cause = await leg.kill
        else:
            cause = await self._ring(leg)
            if cause is None:
                self._answer(leg)
                cause = await self._hold(leg, leg.talk_seconds) or "NORMAL_CLEARING"
        await self._hang_up(leg, cause)

    async def _ring(self, leg: LegState) -> str | None:
        """None when the callee answers, else the cause the leg ends with."""
        outcome, timeout = leg.outcome, leg.originate_timeout_seconds
        if outcome is Outcome.unallocated:
            # A 404 comes back as soon as the carrier routes the number: no ringing.
            return await self._hold(leg, min(leg.ring_seconds / 10, timeout)) or FAILURE_CAUSE[outcome]
        if outcome is Outcome.no_user_response:
            return await self._hold(leg, timeout) or FAILURE_CAUSE[outcome]
        # The 180 Ringing comes back a moment after the INVITE.
        await asyncio.sleep(0)
        killed = self._killed(leg)
        if killed:
            return killed
        self._progress(leg)
        if outcome is Outcome.no_answer:
            return await self._hold(leg, timeout) or FAILURE_CAUSE[outcome]
        if leg.ring_seconds >= timeout:
            return await self._hold(leg, timeout) or "NO_ANSWER"
        killed = await self._hold(leg, leg.ring_seconds)
        if killed:
            return killed
        return FAILURE_CAUSE.get(outcome)

    def _progress(self, leg: LegState) -> None:
        leg.call_state = "RINGING"
        leg.progress_us = now_us()
        leg.progress_loop = asyncio.get_running_loop().time()
        self._bus.emit_channel("CHANNEL_PROGRESS", leg, CS_CONSUME_MEDIA)

    def _answer(self, leg: LegState) -> None:
        leg.answer_state = "answered"
        leg.call_state = "ACTIVE"
        leg.answered_us = now_us()
        leg.answered_loop = asyncio.get_running_loop().time()
        if not leg.to_agent:
            machine = leg.outcome is Outcome.voicemail
            # What an AMD module (mod_amd) leaves on the channel, plus an explicit marker of the simulator's own.
            leg.variables["amd_result"] = "MACHINE" if machine else "HUMAN"
            leg.variables["engage_sim_voicemail"] = "true" if machine else "false"
        self._bus.emit_channel("CHANNEL_ANSWER", leg, CS_CONSUME_MEDIA)
        # originate returns once the leg answers; &park() runs after that (switchio capture: BACKGROUND_JOB,
        # then CHANNEL_PARK).
        self._resolve(leg, f"+OK {leg.uuid}\n")
        self._bus.emit_channel("CHANNEL_PARK", leg, CS_EXECUTE)

    def _resolve(self, leg: LegState, text: str) -> None:
        if leg.result.done():
            return
        leg.result.set_result(text)
        if leg.job is not None:
            job_uuid, argument = leg.job
            self._bus.emit_background_job(job_uuid, "originate", argument, text)

    async def _hang_up(self, leg: LegState, cause: str) -> None:
        if leg.message_timer is not None:
            leg.message_timer.cancel()
        leg.hangup_cause = cause
        leg.answer_state = "hangup"
        leg.call_state = "HANGUP"
        leg.hangup_us = now_us()
        ended_loop = asyncio.get_running_loop().time()
        self._bus.emit_channel("CHANNEL_HANGUP", leg, CS_HANGUP, first=[("Hangup-Cause", cause)])
        if leg.recording is not None:
            await self._stop_recording(leg)
        self._resolve(leg, f"-ERR {cause}\n")
        partner = self.legs.get(leg.bridged_with) if leg.bridged_with else None
        if partner is not None:
            self.kill(partner, "NORMAL_CLEARING")
        # Current FreeSWITCH puts Hangup-Cause twice on HANGUP_COMPLETE (the codec keeps both).
        self._bus.emit_channel(
            "CHANNEL_HANGUP_COMPLETE",
            leg,
            CS_REPORTING,
            first=[("Hangup-Cause", cause)],
            last=[("Hangup-Cause", cause), *cdr_headers(leg, ended_loop)],
        )
        self.legs.pop(leg.uuid, None)
        self._bus.emit_channel("CHANNEL_DESTROY", leg, CS_DESTROY)

    # -- commands on a live leg ---------------------------------------------------------------------------------

    def bridge(self, args: Sequence[str]) -> str:
        if len(args) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        a, b = self.legs.get(args[0]), self.legs.get(args[1])
        if a is None or b is None or a is b or not (a.answered and b.answered):
            return "-ERR Invalid uuid\n"
        if a.answer_state == "hangup" or b.answer_state == "hangup":
            return "-ERR Invalid uuid\n"
        for leg in (a, b):
            previous = self.legs.get(leg.bridged_with) if leg.bridged_with else None
            if previous is not None and previous not in (a, b):
                self._bus.emit_channel("CHANNEL_UNBRIDGE", leg, CS_EXECUTE)
                previous.bridged_with = None
        now = now_us()
        a.bridged_with, b.bridged_with = b.uuid, a.uuid
        a.bridged_us = b.bridged_us = now
        a.application = b.application = "uuid_bridge"
        self._bus.emit_channel("CHANNEL_BRIDGE", a, CS_EXCHANGE_MEDIA)
        return f"+OK {b.uuid}\n"

    def transfer(self, argument: str) -> str:
        request = parse_transfer(argument)
        if request is None:
            return TRANSFER_USAGE
        leg = self.legs.get(request.uuid)
        if leg is None:
            return "-ERR No such channel!\n"
        cause = request.message_then_hangup()
        if cause is not None and leg.answer_state != "hangup":
            if leg.message_timer is not None:
                leg.message_timer.cancel()
            leg.application = "playback"
            leg.message_timer = asyncio.get_running_loop().call_later(self._message_seconds, self.kill, leg, cause)
        return "+OK\n"

    def _recording_path(self, text: str) -> Path | None:
        path = Path(text)
        if self._recordings_dir is None:
            return path if path.is_absolute() else None
        resolved = (self._recordings_dir / path).resolve()
        return resolved if resolved.is_relative_to(self._recordings_dir) else None

    async def record(self, args: Sequence[str]) -> str:
        if len(args) < 3 or args[1].lower() not in ("start", "stop"):
            return "-USAGE: <uuid> [start|stop] <path> [<limit>]\n"
        leg = self.legs.get(args[0])
        if leg is None or leg.answer_state == "hangup":
            return "-ERR Cannot locate session!\n"
        if args[1].lower() == "start":
            path = self._recording_path(args[2])
            if path is None or leg.recording is not None:
                return "-ERR Cannot execute record\n"
            leg.recording = Recording(str(path), asyncio.get_running_loop().time())
            self._bus.emit_channel("RECORD_START", leg, CS_EXECUTE, last=[("Record-File-Path", str(path))])
            return "+OK Success\n"
        recording = leg.recording
        same_file = recording is not None and (
            args[2] in ("all", recording.path) or self._recording_path(args[2]) == Path(recording.path)
        )
        if not same_file:
            return "-ERR Cannot stop record session!\n"
        await self._stop_recording(leg)
        return "+OK Success\n"

    async def _stop_recording(self, leg: LegState) -> None:
        recording, leg.recording = leg.recording, None
        if recording is None:
            return
        seconds = asyncio.get_running_loop().time() - recording.started_at
        samples = await asyncio.to_thread(write_wav, Path(recording.path), seconds)
        leg.variables["record_seconds"] = str(int(seconds))
        leg.variables["record_ms"] = str(int(seconds * 1000))
        leg.variables["record_samples"] = str(samples)
        self._bus.emit_channel("RECORD_STOP", leg, CS_EXECUTE, last=[("Record-File-Path", recording.path)])
