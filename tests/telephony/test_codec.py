"""The ESL codec against real FreeSWITCH captures (tests/telephony/esl_samples*/): every wire sample frames
and parses, whole and split at every byte; the derived samples are tolerated; encoders round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engage.telephony.esl import codec
from engage.telephony.esl.codec import EslProtocolError, FrameDecoder, Headers, decode_stream, parse_event

from ..cli.processes import run_engage

HERE = Path(__file__).parent
WIRE = sorted((HERE / "esl_samples" / "wire").glob("*.esl")) + sorted((HERE / "esl_samples_mpl" / "wire").glob("*"))
DERIVED = sorted((HERE / "esl_samples" / "derived").glob("*")) + sorted(
    (HERE / "esl_samples_mpl" / "derived").glob("*")
)
EVENT_TYPES = (codec.EVENT_PLAIN, codec.EVENT_JSON)


def sample(name: str) -> bytes:
    [path] = [p for p in WIRE if p.name == name]
    return path.read_bytes()


def frames_of(name: str) -> list[codec.Frame]:
    return decode_stream(sample(name))


class TestEveryWireSample:
    @pytest.mark.parametrize("path", WIRE, ids=lambda p: p.name)
    def test_frames_cleanly_and_every_event_parses(self, path: Path) -> None:
        decoder = FrameDecoder()

        frames = decoder.feed(path.read_bytes())

        assert frames
        assert decoder.pending == 0
        for frame in frames:
            assert frame.content_type is not None
            if frame.content_type in EVENT_TYPES:
                assert parse_event(frame).name

    @pytest.mark.parametrize("path", WIRE, ids=lambda p: p.name)
    def test_split_at_every_byte_gives_the_same_frames(self, path: Path) -> None:
        data = path.read_bytes()
        whole = decode_stream(data)

        decoder = FrameDecoder()
        pieces = [frame for i in range(len(data)) for frame in decoder.feed(data[i : i + 1])]

        assert pieces == whole
        assert decoder.pending == 0

    def test_the_inbound_stream_holds_33_events_in_order(self) -> None:
        names = [parse_event(f).name for f in frames_of("fsock-2012-inbound-stream.esl")]

        assert len(names) == 33
        assert names[:3] == ["HEARTBEAT", "RE_SCHEDULE", "CHANNEL_STATE"]

    def test_several_frames_in_one_read_and_a_frame_over_two_reads(self) -> None:
        data = sample("karan-2023-replies.esl")
        decoder = FrameDecoder()

        first = decoder.feed(data[:100])
        rest = decoder.feed(data[100:])

        assert [f.content_type for f in first + rest][:3] == [
            codec.AUTH_REQUEST,
            codec.COMMAND_REPLY,
            codec.COMMAND_REPLY,
        ]
        assert len(first + rest) == 8


@pytest.mark.parametrize("path", DERIVED, ids=lambda p: p.name)
def test_derived_samples_are_tolerated(path: Path) -> None:
    for frame in decode_stream(path.read_bytes()):
        codec.frame_as_json(frame)


class TestWhatTheFramesSay:
    def test_replies_and_api_responses(self) -> None:
        frames = frames_of("karan-2023-replies.esl")

        assert frames[1].headers.get("Reply-Text") == "+OK event listener enabled json"
        assert frames[2].headers.get("Job-UUID") == "0435d687-db9c-46b6-9221-79f82852c1a0"
        assert frames[3].body == b"-ERR SUBSCRIBER_ABSENT\n"
        # A body without a trailing newline still ends exactly at Content-Length.
        assert frames[5].body == b"Reload XML [Success]\nrestarting: external"
        assert frames[-1].content_type == codec.DISCONNECT_NOTICE
        assert frames[-1].text().startswith("Disconnected, goodbye.")

    def test_event_plain_values_are_url_decoded_once(self) -> None:
        [frame] = frames_of("karan-2023-BACKGROUND_JOB-reloadxml.plain.esl")

        event = parse_event(frame)

        assert event.get("FreeSWITCH-IPv6") == "::1"
        assert event.get("Event-Date-Local") == "2023-09-24 05:48:28"
        assert event.body == "+OK [Success]\n"

    def test_a_percent_sequence_decodes_once_not_twice(self) -> None:
        [frame] = frames_of("karan-2023-CHANNEL_EXECUTE_COMPLETE-loopback-origination_uuid.esl")

        assert parse_event(frame).get("variable_DP_MATCH") == "ARRAY::1000|:1000"

    def test_event_json_with_its_body(self) -> None:
        [frame] = frames_of("karan-2023-BACKGROUND_JOB-originate-SUBSCRIBER_ABSENT.json.esl")

        event = parse_event(frame)

        assert event.name == "BACKGROUND_JOB"
        assert event.body == "-ERR SUBSCRIBER_ABSENT\n"
        assert "_body" not in event.headers

    def test_the_dialer_style_originate_job(self) -> None:
        [frame] = decode_stream(
            (HERE / "esl_samples_mpl" / "wire" / "switchio-2017-BACKGROUND_JOB-originate-ok.esl").read_bytes()
        )

        event = parse_event(frame)

        assert (event.get("Job-Command-Arg") or "").startswith("{originate_timeout=60,")
        assert (event.body or "").startswith("+OK 8de782e0-")

    def test_hangup_cause_and_cdr_variables(self) -> None:
        [frame] = frames_of("fsock-2012-CHANNEL_HANGUP_COMPLETE-ORIGINATOR_CANCEL.esl")

        event = parse_event(frame)

        assert event.get("Hangup-Cause") == "ORIGINATOR_CANCEL"
        assert event.get("variable_proto_specific_hangup_cause") == "sip:487"

    def test_repeated_headers_are_all_kept_in_order(self) -> None:
        headers = Headers((("Hangup-Cause", "NORMAL_CLEARING"), ("X", "1"), ("Hangup-Cause", "USER_BUSY")))

        assert headers.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert headers.get_all("Hangup-Cause") == ["NORMAL_CLEARING", "USER_BUSY"]
        assert headers.as_dict()["Hangup-Cause"] == ["NORMAL_CLEARING", "USER_BUSY"]


class TestEncoders:
    def test_event_plain_round_trips_with_special_characters_and_a_body(self) -> None:
        headers = [("Event-Name", "BACKGROUND_JOB"), ("Job-Command-Arg", "{a=1,b=x y}sofia/gw/+9715 &park()")]

        [frame] = decode_stream(codec.encode_event_plain(headers, "+OK 1234\n"))
        event = parse_event(frame)

        assert list(event.headers)[:2] == headers
        assert event.body == "+OK 1234\n"

    def test_event_json_round_trips(self) -> None:
        [frame] = decode_stream(codec.encode_event_json([("Event-Name", "HEARTBEAT")], "x"))

        assert (parse_event(frame).name, parse_event(frame).body) == ("HEARTBEAT", "x")

    def test_a_command_is_one_line_then_its_headers_then_an_empty_line(self) -> None:
        assert codec.encode_command("bgapi status", [("Job-UUID", "j1")]) == b"bgapi status\nJob-UUID: j1\n\n"
        with pytest.raises(EslProtocolError):
            codec.encode_command("api status\nexit")

    def test_a_header_value_cannot_smuggle_a_line(self) -> None:
        with pytest.raises(EslProtocolError):
            codec.encode_frame([("Reply-Text", "+OK\nContent-Length: 5")])


class TestBadStreams:
    def test_a_bad_content_length_is_a_protocol_error(self) -> None:
        with pytest.raises(EslProtocolError):
            FrameDecoder().feed(b"Content-Type: api/response\nContent-Length: lots\n\n")

    def test_a_header_block_that_never_ends_is_refused(self) -> None:
        with pytest.raises(EslProtocolError):
            FrameDecoder().feed(b"X: " + b"y" * (codec.MAX_HEADER_BLOCK + 10))

    def test_a_partial_frame_waits_for_its_body(self) -> None:
        decoder = FrameDecoder()

        assert decoder.feed(b"Content-Type: api/response\nContent-Length: 4\n\n+O") == []
        assert decoder.feed(b"K\n")[0].body == b"+OK\n"


class TestDecodeCommand:
    async def test_prints_one_json_line_per_frame_with_events_decoded(self, cli_env: dict[str, str]) -> None:
        path = next(p for p in WIRE if p.name == "karan-2023-BACKGROUND_JOB-reloadxml.plain.esl")

        result = await run_engage("esl", "decode", str(path), env=cli_env)

        assert result.returncode == 0, result.stderr
        [line] = result.stdout.splitlines()
        decoded = json.loads(line)
        assert decoded["content_type"] == "text/event-plain"
        assert decoded["event"]["FreeSWITCH-IPv6"] == "::1"
        assert decoded["body"] == "+OK [Success]\n"

    async def test_a_file_that_is_not_esl_is_a_problem(self, cli_env: dict[str, str], tmp_path: Path) -> None:
        junk = tmp_path / "junk.esl"
        junk.write_bytes(b"Content-Length: nope\n\n")

        result = await run_engage("esl", "decode", str(junk), env=cli_env)

        assert result.returncode == 2
        assert result.problem()["type"].endswith("/bad-request")
