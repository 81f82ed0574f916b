"""The stream's filter, as pure functions: `types` parsing and the predicate the hub applies live (the replay's
SQL is held to the same results in test_resume.py); and the catalogue, which must name every event the domains
write."""

from __future__ import annotations

import uuid

import pytest

from engage.agents import service as agents
from engage.campaigns import service as campaigns
from engage.consents import service as consents
from engage.core.errors import ValidationFailed
from engage.dialer import service as dialer
from engage.dnc import service as dnc
from engage.events.filters import EventFilter, parse
from engage.events.schemas import EVENT_TYPES


class TestParse:
    def test_no_types_lets_every_type_through(self) -> None:
        only = parse(None, agent_id=None)

        assert only == EventFilter()
        assert only.matches("dnc.removed", {})

    def test_types_and_families_are_kept_with_surrounding_spaces_ignored(self) -> None:
        only = parse(" call.* ,agent.state_changed,call.*", agent_id=None)

        assert only.types == frozenset({"agent.state_changed"})
        assert only.prefixes == ("call.",)
        assert only.matches("call.compliance_blocked", {})
        assert only.matches("agent.state_changed", {})
        assert not only.matches("campaign.started", {})

    @pytest.mark.parametrize("types", ["", " ", "call.exploded", "call", "*", "calls.*", "call.*,", "CALL.COMPLETED"])
    def test_an_empty_or_unknown_entry_is_refused_naming_types(self, types: str) -> None:
        with pytest.raises(ValidationFailed) as refused:
            parse(types, agent_id=None)

        assert refused.value.extra["errors"][0]["field"] == "types"
        assert "catalogue" in refused.value.extra["errors"][0]["message"]

    def test_an_agents_filter_keeps_only_events_whose_payload_names_the_agent(self) -> None:
        agent = uuid.uuid4()
        only = parse(None, agent_id=agent)

        assert only.matches("call.completed", {"agent_id": str(agent)})
        assert not only.matches("call.completed", {"agent_id": str(uuid.uuid4())})
        assert not only.matches("call.completed", {"agent_id": None})
        assert not only.matches("campaign.started", {"campaign_id": str(uuid.uuid4())})


class TestCatalogue:
    def test_the_catalogue_names_each_event_the_domains_write_once(self) -> None:
        written = {
            value
            for module in (agents, consents, dialer, dnc)
            for name, value in vars(module).items()
            if name.startswith("EVENT_") and isinstance(value, str)
        } | {move.event_type for move in (campaigns._START, campaigns._PAUSE, campaigns._COMPLETE)}

        assert set(EVENT_TYPES) == written
        assert len(EVENT_TYPES) == len(written)

    def test_every_type_and_family_of_the_catalogue_passes_its_filter(self) -> None:
        for event_type in EVENT_TYPES:
            family = event_type.split(".", 1)[0]
            assert parse(event_type, agent_id=None).matches(event_type, {})
            assert parse(f"{family}.*", agent_id=None).matches(event_type, {})
