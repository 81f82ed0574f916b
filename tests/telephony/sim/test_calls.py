"""Call legs as a dialer sees them: originate outcomes and their channel events, bridge, kill, record, agents."""

from __future__ import annotations

import asyncio
import contextlib
import wave
from pathlib import Path

import pytest

from engage.telephony.esl import codec
from engage.telephony.sim.server import Behaviour, SwitchSimulator

from .conftest import FAST, Connect, StartSwitch
from .esl_peer import EslPeer

NUMBER = "+971501234567"
LEG = "8de782e0-83c9-11e7-af1b-001500e3e25c"


def originate(number: str = NUMBER, leg: str = LEG, timeout: str = "5", extra: str = "") -> str:
    return (
        f"originate {{origination_uuid={leg},origination_caller_id_number=97142345678,originate_timeout={timeout},"
        f"ignore_early_media=true,engage_call_id=call-1{extra}}}sofia/gateway/carrier/{number} &park()"
    )


async def leg_events(peer: EslPeer, leg: str, until: str = "CHANNEL_DESTROY") -> list[codec.Event]:
    """Every event of `leg` (and the BACKGROUND_JOB that names it) up to `until`, in arrival order."""
    seen: list[codec.Event] = []
    while not seen or seen[-1].name != until:

        def mine(frame: codec.Frame) -> bool:
            if frame.content_type != codec.EVENT_PLAIN:
                return False
            event = codec.parse_event(frame)
            return event.get("Unique-ID") == leg or event.name == "BACKGROUND_JOB"

        seen.append(codec.parse_event(await peer.take(mine)))
    return seen


class TestOriginate:
    async def test_an_answered_call_reports_ok_uuid_and_the_full_channel_sequence_in_order(
        self, sim: SwitchSimulator, connect: Connect
    ):
        peer = await connect()
        sim.force_outcome(NUMBER, "answer")
        await peer.command(f"bgapi {originate()}")

        events = await leg_events(peer, LEG)

        assert [e.name for e in events] == [
            "CHANNEL_CREATE",
            "CHANNEL_PROGRESS",
            "CHANNEL_ANSWER",
            "BACKGROUND_JOB",
            "CHANNEL_PARK",
            "CHANNEL_HANGUP",
            "CHANNEL_HANGUP_COMPLETE",
            "CHANNEL_DESTROY",
        ]
        by_name = {e.name: e for e in events}
        assert by_name["BACKGROUND_JOB"].body == f"+OK {LEG}\n"
        assert by_name["BACKGROUND_JOB"].get("Job-Command") == "originate"
        assert by_name["CHANNEL_PROGRESS"].get("Answer-State") == "ringing"
        park = by_name["CHANNEL_PARK"]
        assert park.get("Answer-State") == "answered"
        assert park.get("Call-Direction") == "outbound"
        assert park.get("Channel-Name") == f"sofia/gateway/carrier/{NUMBER}"
        assert park.get("Caller-Destination-Number") == NUMBER
        assert park.get("Caller-Orig-Caller-ID-Number") == "97142345678"
        assert park.get("variable_origination_uuid") == LEG
        assert park.get("variable_engage_call_id") == "call-1"
        assert park.get("variable_amd_result") == "HUMAN"
        complete = by_name["CHANNEL_HANGUP_COMPLETE"]
        assert complete.headers.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "NORMAL_CLEARING"]
        assert complete.get("variable_hangup_cause") == "NORMAL_CLEARING"
        assert complete.get("variable_billsec") == "0"  # talk of milliseconds
        assert int(complete.get("variable_billmsec") or 0) >= 50
        timestamps = [int(e.get("Event-Date-Timestamp") or 0) for e in events]
        assert timestamps == sorted(timestamps)
        sequences = [int(e.get("Event-Sequence") or 0) for e in events]
        assert sequences == sorted(sequences)
        assert LEG not in sim.legs

    @pytest.mark.parametrize(
        ("outcome", "cause", "rings"),
        [
            ("busy", "USER_BUSY", True),
            ("no_answer", "NO_ANSWER", True),
            ("rejected", "CALL_REJECTED", True),
            ("unallocated", "UNALLOCATED_NUMBER", False),
            ("no_user_response", "NO_USER_RESPONSE", False),
        ],
    )
    async def test_a_failed_call_ends_with_its_cause_and_originate_returns_err_cause(
        self, sim: SwitchSimulator, connect: Connect, outcome: str, cause: str, rings: bool
    ):
        peer = await connect()
        sim.force_outcome(NUMBER, outcome)
        await peer.command(f"bgapi {originate(timeout='0.05')}")

        events = await leg_events(peer, LEG)

        names = [e.name for e in events]
        assert names[0] == "CHANNEL_CREATE"
        assert ("CHANNEL_PROGRESS" in names) is rings
        assert "CHANNEL_ANSWER" not in names
        assert names[-4:] == ["CHANNEL_HANGUP", "BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]
        job = events[-3]
        assert job.body == f"-ERR {cause}\n"
        assert events[-4].get("Hangup-Cause") == cause
        assert events[-2].get("variable_hangup_cause") == cause
        assert events[-2].get("variable_billsec") == "0"

    async def test_a_voicemail_answers_and_is_marked_as_a_machine(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect()
        sim.force_outcome(NUMBER, "voicemail")
        await peer.command(f"bgapi {originate()}")

        events = await leg_events(peer, LEG)

        answer = next(e for e in events if e.name == "CHANNEL_ANSWER")
        assert answer.get("variable_engage_sim_voicemail") == "true"
        assert answer.get("variable_amd_result") == "MACHINE"
        assert next(e for e in events if e.name == "BACKGROUND_JOB").body == f"+OK {LEG}\n"
        assert events[-2].get("variable_hangup_cause") == "NORMAL_CLEARING"

    async def test_a_callee_slower_than_originate_timeout_is_no_answer(
        self, start_switch: StartSwitch, connect: Connect
    ):
        simulator, port = await start_switch(Behaviour(ring_seconds=(5.0, 5.0), seed=1))
        peer = await connect(port=port)
        simulator.force_outcome(NUMBER, "answer")
        await peer.command(f"bgapi {originate(timeout='0.05')}")
        job = await peer.event("BACKGROUND_JOB")
        assert job.body == "-ERR NO_ANSWER\n"

    async def test_api_originate_blocks_until_the_leg_answers(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="")
        sim.force_outcome(NUMBER, "answer")
        assert await peer.api(originate()) == f"+OK {LEG}\n"
        assert await peer.api(f"uuid_exists {LEG}") == "true"

    async def test_a_bad_originate_gets_usage_and_an_unknown_endpoint_is_not_implemented(self, connect: Connect):
        peer = await connect(events="")
        assert (await peer.api("originate")).startswith("-USAGE: ")
        assert await peer.api("originate loopback/1000 &park()") == "-ERR CHAN_NOT_IMPLEMENTED\n"

    async def test_uuid_kill_on_a_ringing_leg_ends_it_with_the_given_cause(
        self, start_switch: StartSwitch, connect: Connect
    ):
        simulator, port = await start_switch(Behaviour(ring_seconds=(5.0, 5.0), seed=1))
        peer = await connect(port=port)
        simulator.force_outcome(NUMBER, "answer")
        await peer.command(f"bgapi {originate(timeout='30')}")
        await peer.event("CHANNEL_PROGRESS", Unique_ID=LEG)
        assert await peer.api(f"uuid_kill {LEG} ORIGINATOR_CANCEL") == "+OK\n"
        job = await peer.event("BACKGROUND_JOB")
        assert job.body == "-ERR ORIGINATOR_CANCEL\n"
        await peer.event("CHANNEL_DESTROY", Unique_ID=LEG)
        assert await peer.api(f"uuid_exists {LEG}") == "false"

    async def test_a_seeded_switch_repeats_its_outcomes(self, start_switch: StartSwitch, connect: Connect):
        behaviour = Behaviour(answer_rate=0.4, busy_rate=0.3, voicemail_rate=0.1, ring_seconds=(5, 5), seed=42)
        runs = []
        for _ in range(2):
            simulator, port = await start_switch(behaviour)
            peer = await connect(events="", port=port)
            for n in range(20):
                await peer.command(f"bgapi {originate(number=f'+97150000{n:04}', leg=f'leg-{n}', timeout='30')}")
            await peer.api("status")
            runs.append([simulator.legs[f"leg-{n}"].outcome for n in range(20)])
            await simulator.stop()
        assert runs[0] == runs[1]
        assert len(set(runs[0])) > 1


class TestBridge:
    async def test_bridged_legs_report_the_bridge_and_hang_up_together(
        self, start_switch: StartSwitch, connect: Connect
    ):
        simulator, port = await start_switch(Behaviour(ring_seconds=(0.01, 0.01), talk_seconds=(0.3, 0.3), seed=1))
        peer = await connect(port=port)
        simulator.register("1001")
        simulator.force_outcome(NUMBER, "answer")
        assert await peer.api(originate()) == f"+OK {LEG}\n"
        assert await peer.api("originate {origination_uuid=agent-leg}user/1001 &park()") == "+OK agent-leg\n"

        assert await peer.api(f"uuid_bridge {LEG} agent-leg") == "+OK agent-leg\n"

        bridge = await peer.event("CHANNEL_BRIDGE")
        assert bridge.get("Unique-ID") == LEG
        assert bridge.get("Other-Leg-Unique-ID") == "agent-leg"
        customer_gone = await peer.event("CHANNEL_HANGUP", Unique_ID=LEG)
        assert customer_gone.get("Hangup-Cause") == "NORMAL_CLEARING"
        agent_gone = await peer.event("CHANNEL_HANGUP_COMPLETE", Unique_ID="agent-leg")
        assert agent_gone.get("Hangup-Cause") == "NORMAL_CLEARING"
        await peer.event("CHANNEL_DESTROY", Unique_ID="agent-leg")
        assert simulator.legs == {}

    async def test_killing_the_agent_leg_hangs_up_the_customer(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect()
        sim.register("1001")
        assert await peer.api("originate {origination_uuid=agent-leg}user/1001 &park()") == "+OK agent-leg\n"
        sim.force_outcome(NUMBER, "answer")
        assert await peer.api(originate()) == f"+OK {LEG}\n"
        assert await peer.api(f"uuid_bridge agent-leg {LEG}") == f"+OK {LEG}\n"
        assert await peer.api("uuid_kill agent-leg") == "+OK\n"
        customer = await peer.event("CHANNEL_HANGUP", Unique_ID=LEG)
        assert customer.get("Hangup-Cause") == "NORMAL_CLEARING"

    async def test_bridging_an_unknown_leg_is_invalid(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="")
        sim.register("1001")
        await peer.api("originate {origination_uuid=agent-leg}user/1001 &park()")
        assert await peer.api("uuid_bridge agent-leg nobody") == "-ERR Invalid uuid\n"


class TestAgents:
    async def test_a_registered_agent_answers_at_once(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect()
        sim.register("1001")
        await peer.command("bgapi originate {origination_uuid=agent-leg,originate_timeout=30}user/1001 &park()")
        events = await leg_events(peer, "agent-leg", until="CHANNEL_PARK")
        assert [e.name for e in events] == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "BACKGROUND_JOB", "CHANNEL_PARK"]
        assert events[2].body == "+OK agent-leg\n"
        assert "agent-leg" in sim.legs  # an agent's phone stays up until hung up

    async def test_an_unregistered_agent_is_subscriber_absent_and_no_channel_exists(
        self, sim: SwitchSimulator, connect: Connect
    ):
        peer = await connect()
        sim.register("1001")
        sim.unregister("1001")
        await peer.command("bgapi originate {origination_uuid=agent-leg}user/1001 &park()")
        job = await peer.event("BACKGROUND_JOB")
        assert job.body == "-ERR SUBSCRIBER_ABSENT\n"
        assert job.get("Job-Command-Arg") == "{origination_uuid=agent-leg}user/1001 &park()"
        assert not any(e.get("Unique-ID") == "agent-leg" for e in peer.events_so_far())
        assert sim.legs == {}

    async def test_show_registrations_lists_registered_users(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="")
        sim.register("1001")
        sim.register("1002")
        sim.unregister("1002")
        lines = (await peer.api("show registrations")).splitlines()
        assert lines[0] == "reg_user,realm,token,url,expires,network_ip,network_port,network_proto,hostname,metadata"
        assert lines[1].startswith("1001,")
        assert lines[-1] == "1 total."
        assert sim.registered() == {"1001"}


class TestAgentPhonesOverEsl:
    """`sim_register`/`sim_unregister`: the simulator's own api commands, for phones in another process."""

    async def test_sim_register_registers_the_user_and_emits_sofia_register(
        self, sim: SwitchSimulator, connect: Connect
    ):
        peer = await connect(events="CUSTOM sofia::register sofia::unregister")

        assert await peer.api("sim_register 1001") == "+OK\n"

        registered = await peer.event("CUSTOM", Event_Subclass="sofia::register")
        assert registered.get("from-user") == "1001"
        assert sim.registered() == {"1001"}

    async def test_sim_unregister_unregisters_the_user_and_emits_sofia_unregister(
        self, sim: SwitchSimulator, connect: Connect
    ):
        peer = await connect(events="CUSTOM sofia::unregister")
        sim.register("1001")

        assert await peer.api("sim_unregister 1001") == "+OK\n"

        unregistered = await peer.event("CUSTOM", Event_Subclass="sofia::unregister")
        assert unregistered.get("from-user") == "1001"
        assert sim.registered() == set()

    async def test_registering_a_registered_user_again_changes_nothing_and_emits_nothing(
        self, sim: SwitchSimulator, connect: Connect
    ):
        peer = await connect(events="CUSTOM sofia::register")
        assert await peer.api("sim_register 1001") == "+OK\n"
        first = await peer.event("CUSTOM", Event_Subclass="sofia::register")

        assert await peer.api("sim_register 1001") == "+OK\n"
        sim.register("1001")
        await peer.api("status")  # a round trip: an event of the second registration would be ahead of this reply

        assert peer.events_so_far() == []
        assert (await peer.api("show registrations")).count("1001,") == 1
        assert first.get("from-user") == "1001"

    async def test_sim_register_without_exactly_one_user_is_a_usage_error(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="")
        assert await peer.api("sim_register") == "-USAGE: sim_register <sip_user>\n"
        assert await peer.api("sim_unregister a b") == "-USAGE: sim_unregister <sip_user>\n"
        assert sim.registered() == set()


class TestTransfer:
    LONG_CALLS = Behaviour(ring_seconds=(0.01, 0.01), talk_seconds=(30.0, 30.0), seed=1)

    async def test_an_inline_playback_then_hangup_ends_the_leg_normally_after_the_message(
        self, start_switch: StartSwitch, connect: Connect
    ):
        simulator, port = await start_switch(self.LONG_CALLS, message_seconds=0.3)
        peer = await connect(port=port)
        simulator.force_outcome(NUMBER, "answer")
        assert await peer.api(originate()) == f"+OK {LEG}\n"

        reply = await peer.api(f"uuid_transfer {LEG} 'playback:/var/sounds/sorry.wav,hangup' inline")

        assert reply == "+OK\n"
        assert await peer.api(f"uuid_exists {LEG}") == "true"  # still playing the message
        ended = await peer.event("CHANNEL_HANGUP_COMPLETE", Unique_ID=LEG)
        assert ended.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert simulator.legs == {}

    async def test_the_inline_hangup_argument_is_the_cause(self, start_switch: StartSwitch, connect: Connect):
        simulator, port = await start_switch(self.LONG_CALLS)
        peer = await connect(port=port)
        simulator.force_outcome(NUMBER, "answer")
        await peer.api(originate())

        assert await peer.api(f"uuid_transfer {LEG} 'playback:/s.wav,hangup:CALL_REJECTED' inline") == "+OK\n"

        ended = await peer.event("CHANNEL_HANGUP_COMPLETE", Unique_ID=LEG)
        assert ended.get("Hangup-Cause") == "CALL_REJECTED"

    async def test_transferring_an_unknown_leg_is_no_such_channel(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="")
        assert await peer.api(f"uuid_transfer {LEG} 'playback:/s.wav,hangup' inline") == "-ERR No such channel!\n"

    async def test_any_other_transfer_is_accepted_and_leaves_the_leg_up(
        self, start_switch: StartSwitch, connect: Connect
    ):
        simulator, port = await start_switch(self.LONG_CALLS, message_seconds=0.0)
        peer = await connect(port=port)
        simulator.force_outcome(NUMBER, "answer")
        await peer.api(originate())

        assert await peer.api(f"uuid_transfer {LEG} 1000 XML default") == "+OK\n"
        assert await peer.api(f"uuid_transfer {LEG} -bleg 'playback:/s.wav' inline") == "+OK\n"

        assert await peer.api(f"uuid_exists {LEG}") == "true"
        assert not any(e.name == "CHANNEL_HANGUP" for e in peer.events_so_far())

    async def test_a_transfer_without_a_destination_gets_usage(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="")
        assert await peer.api(f"uuid_transfer {LEG}") == (
            "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        )


class TestRecording:
    async def test_a_recording_leaves_a_wav_as_long_as_it_ran(
        self, start_switch: StartSwitch, connect: Connect, tmp_path: Path
    ):
        simulator, port = await start_switch(Behaviour(ring_seconds=(0.01, 0.01), talk_seconds=(30, 30), seed=1))
        peer = await connect(port=port)
        simulator.force_outcome(NUMBER, "answer")
        await peer.api(originate())
        path = tmp_path / "recordings" / "t1" / "call-1.wav"

        assert await peer.api(f"uuid_record {LEG} start {path}") == "+OK Success\n"
        started = await peer.event("RECORD_START")
        await asyncio.sleep(0.3)
        assert await peer.api(f"uuid_record {LEG} stop {path}") == "+OK Success\n"
        stopped = await peer.event("RECORD_STOP")

        assert started.get("Record-File-Path") == stopped.get("Record-File-Path") == str(path)
        with wave.open(str(path), "rb") as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
            seconds = audio.getnframes() / audio.getframerate()
        assert 0.25 <= seconds <= 2.0
        assert int(stopped.get("variable_record_ms") or 0) == pytest.approx(seconds * 1000, abs=2)

    async def test_hanging_up_stops_the_recording(self, sim: SwitchSimulator, connect: Connect, tmp_path: Path):
        peer = await connect()
        sim.force_outcome(NUMBER, "answer")
        await peer.api(originate())
        path = tmp_path / "recordings" / "call-2.wav"
        await peer.api(f"uuid_record {LEG} start {path}")
        stopped = await peer.event("RECORD_STOP")  # the callee hangs up after the fast talk time
        assert stopped.get("Unique-ID") == LEG
        assert path.exists()

    async def test_a_path_outside_the_recordings_folder_is_refused(
        self, sim: SwitchSimulator, connect: Connect, tmp_path: Path
    ):
        peer = await connect(events="")
        sim.force_outcome(NUMBER, "answer")
        await peer.api(originate())
        assert (await peer.api(f"uuid_record {LEG} start {tmp_path / 'elsewhere.wav'}")).startswith("-ERR")
        assert (await peer.api(f"uuid_record {LEG} start ../../escape.wav")).startswith("-ERR")
        assert not (tmp_path / "elsewhere.wav").exists()


class TestSwitchState:
    async def test_show_channels_counts_live_legs(self, start_switch: StartSwitch, connect: Connect):
        _, port = await start_switch(Behaviour(ring_seconds=(5, 5), seed=1))
        peer = await connect(events="", port=port)
        for n in range(3):
            await peer.command(f"bgapi {originate(leg=f'leg-{n}', timeout='30')}")
        await peer.api("status")
        listing = await peer.api("show channels")
        lines = listing.splitlines()
        assert lines[0].startswith("uuid,direction,created,created_epoch,name,state,")
        assert sorted(line.split(",")[0] for line in lines[1:4]) == ["leg-0", "leg-1", "leg-2"]
        assert lines[-1] == "3 total."
        assert await peer.api("show channels count") == "\n3 total.\n"

    async def test_dropped_connections_leave_the_legs_up(self, start_switch: StartSwitch, connect: Connect):
        simulator, port = await start_switch(Behaviour(ring_seconds=(0.01, 0.01), talk_seconds=(30, 30), seed=1))
        peer = await connect(port=port)
        simulator.force_outcome(NUMBER, "answer")
        await peer.api(originate())

        await simulator.drop_connections()

        with contextlib.suppress(ConnectionResetError):  # a reset or an end of stream: either way, gone
            await peer.closed()
        assert LEG in simulator.legs
        again = await connect(events="", port=port)
        assert await again.api(f"uuid_exists {LEG}") == "true"

    async def test_heartbeats_arrive_and_can_be_paused(self, start_switch: StartSwitch, connect: Connect):
        simulator, port = await start_switch(FAST, heartbeat_seconds=0.05)
        peer = await connect(events="HEARTBEAT", port=port)
        beat = await peer.event("HEARTBEAT")
        assert beat.get("Event-Info") == "System Ready"
        assert (beat.get("Up-Time") or "").startswith("0 years, 0 days")

        simulator.pause_heartbeats()
        await peer.api("status")  # every beat sent before the pause is read by now
        peer.pending.clear()
        await asyncio.sleep(0.2)
        await peer.api("status")
        assert peer.events_so_far() == []

        simulator.pause_heartbeats(False)
        await peer.event("HEARTBEAT")

    async def test_a_thousand_concurrent_calls_all_complete(self, start_switch: StartSwitch, connect: Connect):
        # Rings of 1-1.5 s: longer than sending a thousand originates takes even on a loaded two-core machine, so
        # they overlap whatever the machine's speed.
        behaviour = Behaviour(answer_rate=0.5, ring_seconds=(1.0, 1.5), talk_seconds=(0.1, 0.2), seed=5)
        simulator, port = await start_switch(behaviour)
        peer = await connect(events="BACKGROUND_JOB CHANNEL_DESTROY", port=port)
        for n in range(1000):
            peer.send(f"bgapi {originate(number=f'+9715{n:08}', leg=f'leg-{n}', timeout='2')}")
        await peer.api("status", within=10)
        assert len(simulator.legs) > 500  # all up at once, ringing or talking
        await peer.count("CHANNEL_DESTROY", 1000, within=20)
        assert simulator.legs == {}
