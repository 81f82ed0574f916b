"""The Event Socket conversation itself: auth, replies, subscriptions, filters, api and bgapi."""

from __future__ import annotations

import json

import pytest

from engage.config import SimSettings
from engage.telephony.esl import codec
from engage.telephony.sim.server import Behaviour, CommandDecoder, SwitchSimulator

from .conftest import PASSWORD, Connect
from .esl_peer import EslPeer

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


class TestAuth:
    async def test_the_switch_asks_for_auth_and_accepts_the_right_password(self, switch: tuple[SwitchSimulator, int]):
        peer = await EslPeer.connect(switch[1])
        try:
            first = await peer.take(lambda f: True)
            assert first.content_type == codec.AUTH_REQUEST
            assert await peer.command(f"auth {PASSWORD}") == "+OK accepted"
        finally:
            await peer.close()

    async def test_a_wrong_password_gets_err_invalid_then_the_disconnect_notice_and_a_closed_socket(
        self, switch: tuple[SwitchSimulator, int]
    ):
        peer = await EslPeer.connect(switch[1])
        try:
            assert await peer.command("auth wrong") == "-ERR invalid"
            notice = await peer.take(lambda f: f.content_type == codec.DISCONNECT_NOTICE)
            assert notice.body == GOODBYE
            assert await peer.closed()
        finally:
            await peer.close()

    async def test_commands_before_auth_are_refused_and_run_nothing(self, switch: tuple[SwitchSimulator, int]):
        peer = await EslPeer.connect(switch[1])
        try:
            peer.send("api originate user/1001 &park()")
            reply = await peer.reply()
            assert reply.content_type == codec.COMMAND_REPLY
            assert reply.headers.get("Reply-Text") == "-ERR command not found"
            assert switch[0].legs == {}
            assert await peer.command(f"auth {PASSWORD}") == "+OK accepted"
        finally:
            await peer.close()

    async def test_exit_says_bye_then_disconnects(self, connect: Connect):
        peer = await connect(events="")
        assert await peer.command("exit") == "+OK bye"
        notice = await peer.take(lambda f: f.content_type == codec.DISCONNECT_NOTICE)
        assert notice.body == GOODBYE
        assert await peer.closed()


class TestSubscriptions:
    async def test_only_subscribed_events_arrive(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="CHANNEL_HANGUP")
        sim.force_outcome("+971500000001", "busy")
        await peer.command("bgapi originate {originate_timeout=5}sofia/gateway/gw/+971500000001 &park()")
        hangup = await peer.event("CHANNEL_HANGUP")
        assert hangup.get("Hangup-Cause") == "USER_BUSY"
        await peer.api("status")  # a round trip: every event of the leg was written before this reply
        assert {e.name for e in peer.events_so_far()} <= {"CHANNEL_HANGUP"}

    async def test_json_subscribers_get_the_same_event_as_json(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="CUSTOM sofia::register", fmt="json")
        sim.register("1001")
        frame = await peer.take(lambda f: f.content_type == codec.EVENT_JSON)
        data = json.loads(frame.body)
        assert data["Event-Subclass"] == "sofia::register"
        assert data["from-user"] == "1001"

    async def test_custom_events_need_their_subclass_named(self, sim: SwitchSimulator, connect: Connect):
        custom_only = await connect(events="CUSTOM")
        with_subclass = await connect(events="CUSTOM sofia::register sofia::unregister sofia::expire")
        sim.register("1001")
        sim.unregister("1001")
        registered = await with_subclass.event("CUSTOM", Event_Subclass="sofia::register")
        assert registered.get("username") == "1001"
        assert registered.get("status") == "Registered(UDP)"
        unregistered = await with_subclass.event("CUSTOM", Event_Subclass="sofia::unregister")
        assert unregistered.get("from-user") == "1001"
        await custom_only.api("status")
        assert custom_only.events_so_far() == []

    async def test_a_filter_lets_through_only_events_whose_header_matches(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="CHANNEL_CREATE")
        assert await peer.command("filter Unique-ID leg-b") == "+OK filter added. [Unique-ID]=[leg-b]"
        for leg in ("leg-a", "leg-b"):
            sim.force_outcome(leg, "busy")
            await peer.command(f"bgapi originate {{origination_uuid={leg}}}sofia/gateway/gw/{leg} &park()")
        created = await peer.event("CHANNEL_CREATE")
        assert created.get("Unique-ID") == "leg-b"
        await peer.api("status")
        assert peer.events_so_far() == []

    async def test_noevents_stops_delivery(self, sim: SwitchSimulator, connect: Connect):
        peer = await connect(events="ALL")
        assert await peer.command("noevents") == "+OK no longer listening for events"
        sim.register("1001")
        await peer.api("status")
        assert peer.events_so_far() == []

    async def test_event_sequence_is_one_counter_for_the_switch(self, sim: SwitchSimulator, connect: Connect):
        first, second = await connect(events="ALL"), await connect(events="ALL", fmt="json")
        sim.register("1001")
        sim.register("1002")
        a1, a2 = await first.event("CUSTOM"), await first.event("CUSTOM")
        b1 = await second.event("CUSTOM")
        assert int(a2.get("Event-Sequence") or 0) == int(a1.get("Event-Sequence") or 0) + 1
        assert b1.get("Event-Sequence") == a1.get("Event-Sequence")


class TestApi:
    async def test_status_reports_a_ready_freeswitch(self, connect: Connect):
        peer = await connect(events="")
        status = await peer.api("status")
        assert status.startswith("UP 0 years, 0 days")
        assert "FreeSWITCH (Version 1.10.3-release" in status
        assert "is ready" in status

    async def test_an_unknown_api_command_is_not_found(self, connect: Connect):
        peer = await connect(events="")
        assert await peer.api("frobnicate now") == "-ERR frobnicate Command not found!\n"

    async def test_an_unknown_socket_command_is_not_found(self, connect: Connect):
        peer = await connect(events="")
        assert await peer.command("frobnicate") == "-ERR command not found"

    async def test_bgapi_replies_with_the_clients_job_uuid_then_a_background_job_carries_the_result(
        self, connect: Connect
    ):
        peer = await connect(events="BACKGROUND_JOB")
        job = "0435d687-db9c-46b6-9221-79f82852c1a0"
        peer.send("bgapi uuid_exists nope", [("Job-UUID", job)])
        reply = await peer.reply()
        assert reply.headers.get("Reply-Text") == f"+OK Job-UUID: {job}"
        assert reply.headers.get("Job-UUID") == job
        done = await peer.event("BACKGROUND_JOB")
        assert done.get("Job-UUID") == job
        assert done.get("Job-Command") == "uuid_exists"
        assert done.get("Job-Command-Arg") == "nope"
        assert done.body == "false"

    async def test_bgapi_without_a_job_uuid_gets_one(self, connect: Connect):
        peer = await connect(events="BACKGROUND_JOB")
        text = await peer.command("bgapi status")
        job = text.removeprefix("+OK Job-UUID: ")
        assert len(job) == 36
        done = await peer.event("BACKGROUND_JOB", Job_UUID=job)
        assert (done.body or "").startswith("UP ")

    async def test_uuid_kill_and_uuid_exists_on_an_unknown_channel(self, connect: Connect):
        peer = await connect(events="")
        assert await peer.api("uuid_kill 7f4de4bc-0000-0000-0000-000000000000") == "-ERR No such channel!\n"
        assert await peer.api("uuid_exists 7f4de4bc-0000-0000-0000-000000000000") == "false"

    async def test_show_channels_and_registrations_print_zero_total_when_empty(self, connect: Connect):
        peer = await connect(events="")
        assert await peer.api("show channels") == "\n0 total.\n"
        assert await peer.api("show registrations") == "\n0 total.\n"


class TestCommandDecoder:
    def test_a_command_line_may_hold_colons_and_arrive_split_with_crlf(self):
        decoder = CommandDecoder()
        data = b"event plain CUSTOM sofia::register\r\n\r\nbgapi status\nJob-UUID: abc\n\n"
        commands = [c for i in range(len(data)) for c in decoder.feed(data[i : i + 1])]
        assert [c.line for c in commands] == ["event plain CUSTOM sofia::register", "bgapi status"]
        assert commands[1].headers.get("Job-UUID") == "abc"

    def test_a_command_body_is_read_by_its_content_length(self):
        decoder = CommandDecoder()
        commands = decoder.feed(b"sendevent CUSTOM\nContent-Length: 5\n\nhello\n\nexit\n\n")
        assert [(c.line, c.body) for c in commands] == [("sendevent CUSTOM", b"hello"), ("exit", b"")]


class TestBehaviour:
    def test_settings_ranges_are_parsed(self):
        behaviour = Behaviour.from_settings(SimSettings(ring_seconds="2-8", talk_seconds="20-120", seed=3))
        assert behaviour.ring_seconds == (2.0, 8.0)
        assert behaviour.talk_seconds == (20.0, 120.0)
        assert behaviour.seed == 3

    @pytest.mark.parametrize("text", ["8-2", "x", "-1-3"])
    def test_a_bad_range_is_refused(self, text: str):
        with pytest.raises(ValueError, match="range"):
            Behaviour.from_settings(SimSettings(ring_seconds=text))

    def test_rates_over_one_are_refused(self):
        with pytest.raises(ValueError, match="rates"):
            Behaviour(answer_rate=0.8, busy_rate=0.3)
