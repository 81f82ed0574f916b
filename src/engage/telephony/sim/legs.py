"""The simulated switch's call legs: what an `originate` asks for, how a leg stands, and the channel headers
FreeSWITCH puts on every channel event of an outbound leg.

Pure data and formatting, no I/O: the server drives a leg through its life and emits the events. Header names,
state names and cause codes are FreeSWITCH's own (switch_types.h, switch_channel.c, the captures in
/work/shared/esl-samples), so a client reading them cannot tell the simulator from the real switch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """How the far end treats a leg: drawn from `Behaviour`'s rates, or forced by a test."""

    answer = "answer"
    busy = "busy"
    no_answer = "no_answer"
    voicemail = "voicemail"
    rejected = "rejected"
    unallocated = "unallocated"
    # A network that never sends even a provisional response (SIP 408): no CHANNEL_PROGRESS.
    no_user_response = "no_user_response"


# The Q.850 value FreeSWITCH reports beside each cause (`variable_hangup_cause_q850`), and the SIP final status
# the far end sent for it (`variable_sip_term_status`; none when the cause is ours).
Q850 = {
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "UNALLOCATED_NUMBER": 1,
    "ORIGINATOR_CANCEL": 487,
    "MANAGER_REQUEST": 503,
    "ALLOTTED_TIMEOUT": 602,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "DESTINATION_OUT_OF_ORDER": 27,
}
SIP_STATUS = {
    "USER_BUSY": "486",
    "NO_ANSWER": "480",
    "NO_USER_RESPONSE": "408",
    "CALL_REJECTED": "603",
    "UNALLOCATED_NUMBER": "404",
    "ORIGINATOR_CANCEL": "487",
}
FAILURE_CAUSE = {
    Outcome.busy: "USER_BUSY",
    Outcome.no_answer: "NO_ANSWER",
    Outcome.no_user_response: "NO_USER_RESPONSE",
    Outcome.rejected: "CALL_REJECTED",
    Outcome.unallocated: "UNALLOCATED_NUMBER",
}

# switch_channel_state_t: (name, number) as FreeSWITCH prints them in Channel-State / Channel-State-Number.
CS_INIT = ("CS_INIT", 1)
CS_EXECUTE = ("CS_EXECUTE", 4)
CS_EXCHANGE_MEDIA = ("CS_EXCHANGE_MEDIA", 5)
CS_CONSUME_MEDIA = ("CS_CONSUME_MEDIA", 7)
CS_HANGUP = ("CS_HANGUP", 10)
CS_REPORTING = ("CS_REPORTING", 11)
CS_DESTROY = ("CS_DESTROY", 12)

# originate_timeout when the originate does not set it (switch_ivr_originate.c).
DEFAULT_ORIGINATE_TIMEOUT_SECONDS = 60.0


class OriginateError(ValueError):
    """An originate the switch refuses before any channel exists: the text is the `-ERR`/`-USAGE` line."""


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    variables: dict[str, str]
    endpoint: str  # e.g. sofia/gateway/carrier/+971501234567 or user/1001
    application: str  # `park` for `&park()`

    @property
    def to_agent(self) -> bool:
        return self.endpoint.startswith("user/")

    @property
    def destination(self) -> str:
        """The dialled number, or the agent's SIP user (without any @domain)."""
        last = self.endpoint.rsplit("/", 1)[-1]
        return last.split("@", 1)[0] if self.to_agent else last


ORIGINATE_USAGE = (
    "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] "
    "[<cid_num>] [<timeout_sec>]\n"
)


def _split_variables(text: str) -> dict[str, str]:
    """`a=b,c='x,y',d=e\\,f` as switch_event_create_brackets reads it: commas split unless escaped or quoted."""
    out: dict[str, str] = {}
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "'":
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    for part in parts:
        name, separator, value = part.partition("=")
        if separator and name.strip():
            out[name.strip()] = value
    return out


def parse_originate(argument: str) -> OriginateRequest:
    """`{vars}[vars]endpoint &park()`; raises OriginateError with the switch's reply otherwise."""
    text = argument.strip()
    variables: dict[str, str] = {}
    while text[:1] in ("{", "[", "<"):
        closing = {"{": "}", "[": "]", "<": ">"}[text[0]]
        end = text.find(closing)
        if end < 0:
            raise OriginateError(ORIGINATE_USAGE)
        variables.update(_split_variables(text[1:end]))
        text = text[end + 1 :]
    endpoint, _, rest = text.partition(" ")
    application = rest.strip().split(" ", 1)[0] if rest.strip() else ""
    if not endpoint or not application:
        raise OriginateError(ORIGINATE_USAGE)
    if application.startswith("&"):
        application = application[1:].split("(", 1)[0]
    if not (endpoint.startswith("sofia/") or endpoint.startswith("user/")) or endpoint.endswith("/"):
        raise OriginateError("-ERR CHAN_NOT_IMPLEMENTED\n")
    return OriginateRequest(variables, endpoint, application)


TRANSFER_USAGE = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"


def separate_words(text: str) -> list[str]:
    """An api argument split as switch_separate_string does with a blank: on spaces, except inside `'…'`, whose
    quotes are dropped (`a 'b c' d` → a, b c, d)."""
    words: list[str] = []
    current: list[str] = []
    quoted = started = False
    for char in text:
        if char == "'":
            quoted = not quoted
            started = True
        elif char == " " and not quoted:
            if started:
                words.append("".join(current))
                current, started = [], False
        else:
            current.append(char)
            started = True
    if started:
        words.append("".join(current))
    return words


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """`uuid_transfer <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]` (mod_commands)."""

    uuid: str
    destination: str
    dialplan: str | None

    def message_then_hangup(self) -> str | None:
        """The hangup cause when the destination is an inline dialplan that plays a file and then hangs up
        (`playback:<path>,hangup[:<cause>]`); None for any other transfer."""
        if self.dialplan != "inline":
            return None
        applications = [part.partition(":") for part in self.destination.split(",")]
        if not any(name == "playback" for name, _, _ in applications[:-1]):
            return None
        name, _, cause = applications[-1]
        if name != "hangup":
            return None
        # The hangup application's argument is a cause name; one the switch does not know clears normally.
        return cause if cause in Q850 else "NORMAL_CLEARING"


def parse_transfer(argument: str) -> TransferRequest | None:
    """None when the arguments do not fit TRANSFER_USAGE. `-bleg`/`-both` are accepted and, as no simulated leg
    is transferred with its partner, ignored."""
    words = separate_words(argument)
    if not 2 <= len(words) <= 5:
        return None
    rest = words[2:] if words[1].startswith("-") else words[1:]
    if not rest:
        return None
    return TransferRequest(words[0], rest[0], rest[1] if len(rest) > 1 else None)


@dataclass(slots=True)
class Recording:
    path: str
    started_at: float  # loop time


@dataclass(slots=True, eq=False)
class LegState:
    """One live channel. `answer_state` and `call_state` use FreeSWITCH's words (Answer-State,
    Channel-Call-State); instants are epoch microseconds as FreeSWITCH prints them (0 = not yet)."""

    uuid: str
    endpoint: str
    destination: str
    caller_id_number: str
    caller_id_name: str
    variables: dict[str, str]
    to_agent: bool
    outcome: Outcome
    ring_seconds: float
    talk_seconds: float
    originate_timeout_seconds: float
    created_us: int
    answer_state: str = "ringing"
    call_state: str = "DOWN"
    progress_us: int = 0
    answered_us: int = 0
    bridged_us: int = 0
    hangup_us: int = 0
    created_loop: float = 0.0
    progress_loop: float | None = None
    answered_loop: float | None = None
    bridged_with: str | None = None
    hangup_cause: str | None = None
    recording: Recording | None = None
    application: str = "park"
    # Set once with the cause when something outside the leg (uuid_kill, the bridged partner) hangs it up.
    kill: asyncio.Future[str] = field(kw_only=True, repr=False)
    # The originate's result text (`+OK <uuid>\n` or `-ERR <CAUSE>\n`), set once the leg answers or fails.
    result: asyncio.Future[str] = field(kw_only=True, repr=False)
    # The bgapi job that asked for this leg: (Job-UUID, Job-Command-Arg); its BACKGROUND_JOB carries `result`.
    job: tuple[str, str] | None = None
    # Set while a message plays before an inline `hangup` (uuid_transfer): the hang-up it will do.
    message_timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def channel_name(self) -> str:
        return self.endpoint

    @property
    def answered(self) -> bool:
        return self.answered_us != 0


def channel_headers(leg: LegState, state: tuple[str, int]) -> list[tuple[str, str]]:
    """The channel block of an event, in FreeSWITCH's order (switch_channel_event_set_basic_data, then the
    caller profile, then every channel variable). On an outbound leg FreeSWITCH swaps the caller profile:
    Caller-Caller-ID-Number is the callee, our caller id is in Caller-Orig-Caller-ID-Number (CHANNEL_PARK
    capture, switchio 2017)."""
    state_name, state_number = state
    headers = [
        ("Channel-State", state_name),
        ("Channel-Call-State", leg.call_state),
        ("Channel-State-Number", str(state_number)),
        ("Channel-Name", leg.channel_name),
        ("Unique-ID", leg.uuid),
        ("Call-Direction", "outbound"),
        ("Presence-Call-Direction", "outbound"),
        ("Channel-HIT-Dialplan", "false"),
        ("Channel-Call-UUID", leg.uuid),
        ("Answer-State", leg.answer_state),
        ("Channel-Read-Codec-Name", "PCMU"),
        ("Channel-Read-Codec-Rate", "8000"),
        ("Channel-Read-Codec-Bit-Rate", "64000"),
        ("Channel-Write-Codec-Name", "PCMU"),
        ("Channel-Write-Codec-Rate", "8000"),
        ("Channel-Write-Codec-Bit-Rate", "64000"),
        ("Caller-Direction", "outbound"),
        ("Caller-Logical-Direction", "outbound"),
        ("Caller-Caller-ID-Name", "Outbound Call"),
        ("Caller-Caller-ID-Number", leg.destination),
        ("Caller-Orig-Caller-ID-Name", leg.caller_id_name),
        ("Caller-Orig-Caller-ID-Number", leg.caller_id_number),
        ("Caller-Callee-ID-Name", leg.caller_id_name),
        ("Caller-Callee-ID-Number", leg.caller_id_number),
        ("Caller-Network-Addr", "127.0.0.1"),
        ("Caller-ANI", leg.caller_id_number),
        ("Caller-Destination-Number", leg.destination),
        ("Caller-Unique-ID", leg.uuid),
        ("Caller-Source", "src/switch_ivr_originate.c"),
        ("Caller-Context", "default"),
        ("Caller-Channel-Name", leg.channel_name),
        ("Caller-Profile-Index", "1"),
        ("Caller-Profile-Created-Time", str(leg.created_us)),
        ("Caller-Channel-Created-Time", str(leg.created_us)),
        ("Caller-Channel-Answered-Time", str(leg.answered_us)),
        ("Caller-Channel-Progress-Time", str(leg.progress_us)),
        ("Caller-Channel-Progress-Media-Time", "0"),
        ("Caller-Channel-Hangup-Time", str(leg.hangup_us)),
        ("Caller-Channel-Transfer-Time", "0"),
        ("Caller-Channel-Resurrect-Time", "0"),
        ("Caller-Channel-Bridged-Time", str(leg.bridged_us)),
        ("Caller-Channel-Last-Hold", "0"),
        ("Caller-Channel-Hold-Accum", "0"),
        ("Caller-Screen-Bit", "true"),
        ("Caller-Privacy-Hide-Name", "false"),
        ("Caller-Privacy-Hide-Number", "false"),
    ]
    if leg.bridged_with is not None:
        headers += [
            ("Other-Type", "originatee"),
            ("Other-Leg-Unique-ID", leg.bridged_with),
        ]
    headers += [
        ("variable_direction", "outbound"),
        ("variable_is_outbound", "true"),
        ("variable_uuid", leg.uuid),
        ("variable_call_uuid", leg.uuid),
        ("variable_channel_name", leg.channel_name),
        ("variable_sip_profile_name", "internal" if leg.to_agent else "external"),
    ]
    headers += [(f"variable_{name}", value) for name, value in leg.variables.items()]
    if leg.answered:
        headers.append(("variable_endpoint_disposition", "ANSWER"))
    if leg.bridged_with is not None:
        headers.append(("variable_bridge_uuid", leg.bridged_with))
    headers.append(("variable_current_application", leg.application))
    return headers


def cdr_headers(leg: LegState, ended_loop: float) -> list[tuple[str, str]]:
    """The CDR variables FreeSWITCH adds at CHANNEL_HANGUP_COMPLETE (switch_channel_set_timestamps).
    Durations are measured on the loop clock, so they hold for simulated talk times of a few milliseconds."""
    cause = leg.hangup_cause or "NORMAL_CLEARING"
    duration = ended_loop - leg.created_loop
    billsec = ended_loop - leg.answered_loop if leg.answered_loop is not None else 0.0
    answersec = leg.answered_loop - leg.created_loop if leg.answered_loop is not None else 0.0
    progresssec = leg.progress_loop - leg.created_loop if leg.progress_loop is not None else 0.0
    headers = [
        ("variable_hangup_cause", cause),
        ("variable_hangup_cause_q850", str(Q850.get(cause, 16))),
    ]
    if cause in SIP_STATUS:
        headers += [
            ("variable_sip_term_status", SIP_STATUS[cause]),
            ("variable_proto_specific_hangup_cause", f"sip:{SIP_STATUS[cause]}"),
        ]
    headers += [
        ("variable_start_epoch", str(leg.created_us // 1_000_000)),
        ("variable_start_uepoch", str(leg.created_us)),
        ("variable_answer_epoch", str(leg.answered_us // 1_000_000)),
        ("variable_answer_uepoch", str(leg.answered_us)),
        ("variable_progress_epoch", str(leg.progress_us // 1_000_000)),
        ("variable_progress_uepoch", str(leg.progress_us)),
        ("variable_bridge_epoch", str(leg.bridged_us // 1_000_000)),
        ("variable_bridge_uepoch", str(leg.bridged_us)),
        ("variable_end_epoch", str(leg.hangup_us // 1_000_000)),
        ("variable_end_uepoch", str(leg.hangup_us)),
        ("variable_duration", str(int(duration))),
        ("variable_billsec", str(int(billsec))),
        ("variable_progresssec", str(int(progresssec))),
        ("variable_answersec", str(int(answersec))),
        ("variable_mduration", str(int(duration * 1000))),
        ("variable_billmsec", str(int(billsec * 1000))),
        ("variable_progressmsec", str(int(progresssec * 1000))),
        ("variable_answermsec", str(int(answersec * 1000))),
    ]
    return headers


# `show channels` columns, as FreeSWITCH 1.10 prints them.
SHOW_CHANNELS_COLUMNS = (
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,"
    "dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,"
    "presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,"
    "sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,"
    "initial_dialplan,initial_context"
)


def show_channels_row(leg: LegState, *, created_local: str, hostname: str, state: str) -> str:
    fields = [
        leg.uuid,
        "outbound",
        created_local,
        str(leg.created_us // 1_000_000),
        leg.channel_name,
        state,
        "Outbound Call",
        leg.destination,
        "127.0.0.1",
        leg.destination,
        leg.application if leg.answered else "",
        "",
        "XML",
        "default",
        "PCMU",
        "8000",
        "64000",
        "PCMU",
        "8000",
        "64000",
        "",
        hostname,
        "",
        "",
        "",
        leg.call_state,
        leg.caller_id_name,
        leg.caller_id_number,
        "SEND",
        leg.uuid,
        "",
        "",
        leg.caller_id_name,
        leg.caller_id_number,
        "127.0.0.1",
        leg.destination,
        "XML",
        "default",
    ]
    return ",".join(field.replace(",", " ") for field in fields)
