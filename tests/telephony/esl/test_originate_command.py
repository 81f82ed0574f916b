"""The originate string and the outcome mapping: pure functions, no switch."""

from __future__ import annotations

import pytest

from engage.telephony.esl.switch import (
    InvalidSwitchCommand,
    originate_command,
    outcome_for,
    parse_registrations,
)
from engage.telephony.events import LegOutcome
from engage.telephony.port import Originate, SwitchError

LEG = "0b9f7e0e-8a43-4c4e-9d0e-3d2b9f1c2a11"


def _request(**overrides: object) -> Originate:
    fields: dict[str, object] = {
        "leg_id": LEG,
        "destination": "+971501234567",
        "caller_id": "+97143334444",
        "timeout_seconds": 30,
    }
    fields.update(overrides)
    return Originate(**fields)  # type: ignore[arg-type]


class TestOriginateCommand:
    def test_a_number_goes_through_the_gateway_and_parks_with_our_leg_id(self) -> None:
        command = originate_command(_request(), gateway="carrier1")

        assert command == (
            f"originate {{origination_uuid={LEG},origination_caller_id_number=+97143334444,"
            "originate_timeout=30,ignore_early_media=true}sofia/gateway/carrier1/+971501234567 &park()"
        )

    def test_an_agent_is_dialled_as_a_user(self) -> None:
        command = originate_command(_request(destination="user/agent7", to_agent=True), gateway="gw")

        assert command.endswith("}user/agent7 &park()")
        assert originate_command(_request(destination="agent7", to_agent=True), gateway="gw") == command

    def test_a_value_with_a_comma_is_quoted(self) -> None:
        command = originate_command(_request(variables={"engage_tags": "a,b"}), gateway="gw")

        assert ",engage_tags='a,b'}" in command

    @pytest.mark.parametrize(
        "value", ["x}sofia/gateway/evil/1", "it's", "a b", "${system rm}", "x{y", 'say "hi"', "line\nbreak"]
    )
    def test_a_value_that_could_rewrite_the_command_is_refused(self, value: str) -> None:
        with pytest.raises(InvalidSwitchCommand):
            originate_command(_request(variables={"engage_campaign": value}), gateway="gw")

    @pytest.mark.parametrize(
        "overrides",
        [
            {"destination": "123,456"},
            {"destination": "+9715}0"},
            {"caller_id": "evil caller"},
            {"leg_id": "abc}def"},
            {"destination": "agent 7", "to_agent": True},
            {"variables": {"origination_uuid": "other"}},
            {"variables": {"bad name": "x"}},
            {"timeout_seconds": 0},
        ],
    )
    def test_unsafe_fields_are_refused_before_anything_is_sent(self, overrides: dict[str, object]) -> None:
        with pytest.raises(InvalidSwitchCommand):
            originate_command(_request(**overrides), gateway="gw")

    def test_a_refused_originate_is_a_switch_error(self) -> None:
        assert issubclass(InvalidSwitchCommand, SwitchError)


class TestOutcome:
    @pytest.mark.parametrize(
        ("cause", "answered", "voicemail", "outcome"),
        [
            ("NORMAL_CLEARING", True, False, LegOutcome.completed),
            ("NORMAL_CLEARING", True, True, LegOutcome.voicemail),
            ("MANAGER_REQUEST", True, False, LegOutcome.completed),
            ("USER_BUSY", False, False, LegOutcome.busy),
            ("NO_ANSWER", False, False, LegOutcome.no_answer),
            ("NO_USER_RESPONSE", False, False, LegOutcome.no_answer),
            ("ORIGINATOR_CANCEL", False, False, LegOutcome.no_answer),
            ("CALL_REJECTED", False, False, LegOutcome.failed),
            ("UNALLOCATED_NUMBER", False, False, LegOutcome.failed),
            ("SUBSCRIBER_ABSENT", False, False, LegOutcome.failed),
            ("NORMAL_TEMPORARY_FAILURE", False, False, LegOutcome.failed),
        ],
    )
    def test_the_cause_and_the_answer_decide_the_outcome(
        self, cause: str, answered: bool, voicemail: bool, outcome: LegOutcome
    ) -> None:
        assert outcome_for(cause, answered=answered, voicemail=voicemail) is outcome


class TestRegistrations:
    def test_the_reg_user_column_of_show_registrations_is_read(self) -> None:
        text = (
            "reg_user,realm,token,url,expires,network_ip,network_port,network_proto,hostname,metadata\n"
            "1001,example.com,abc,sofia/internal/sip:1001@10.0.0.5:5060,1790000000,10.0.0.5,5060,udp,fs1,\n"
            'agent7,example.com,def,"sofia/internal/sip:agent7@10.0.0.6:5060;ob",1790000000,10.0.0.6,5060,tcp,fs1,\n'
            "\n"
            "2 total.\n"
        )

        assert parse_registrations(text) == {"1001", "agent7"}

    def test_no_registrations_is_an_empty_set(self) -> None:
        text = "reg_user,realm,token,url,expires,network_ip,network_port,network_proto,hostname,metadata\n\n0 total.\n"

        assert parse_registrations(text) == set()
