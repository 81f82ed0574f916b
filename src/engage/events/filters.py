"""Which events a stream carries: its `types` filter and, for an agent, only the events about the agent itself.

Pure: the same predicate decides the hub's live fan-out, and the repository turns it into the replay's SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from engage.core.errors import ValidationFailed

from .schemas import EVENT_TYPES, FAMILIES

_TYPES = frozenset(EVENT_TYPES)
_FAMILIES = frozenset(FAMILIES)


@dataclass(frozen=True, slots=True)
class EventFilter:
    # None: every type; else the exact types and the `<family>.` prefixes asked for.
    types: frozenset[str] | None = None
    prefixes: tuple[str, ...] = ()
    # An agent's stream: only events whose payload names this agent (`payload.agent_id`).
    agent_id: str | None = None

    def matches(self, event_type: str, payload: dict[str, Any]) -> bool:
        if self.agent_id is not None and payload.get("agent_id") != self.agent_id:
            return False
        if self.types is None:
            return True
        return event_type in self.types or any(event_type.startswith(prefix) for prefix in self.prefixes)


def parse(types: str | None, *, agent_id: uuid.UUID | None) -> EventFilter:
    """The filter of a stream request; an empty or unknown entry of `types` is a 400 naming it (and the stream
    is not opened)."""
    agent = None if agent_id is None else str(agent_id)
    if types is None:
        return EventFilter(agent_id=agent)
    exact: set[str] = set()
    prefixes: list[str] = []
    unknown: list[str] = []
    for entry in (part.strip() for part in types.split(",")):
        if entry in _TYPES:
            exact.add(entry)
        elif entry.endswith(".*") and entry[:-2] in _FAMILIES:
            if entry[:-1] not in prefixes:
                prefixes.append(entry[:-1])
        else:
            unknown.append(entry)
    if unknown or not (exact or prefixes):
        shown = ", ".join(repr(entry) for entry in unknown) or "none"
        message = (
            f"unknown event type(s) {shown}; name types of the catalogue ({', '.join(sorted(_TYPES))}) or "
            f"families ({', '.join(f'{family}.*' for family in FAMILIES)}), comma-separated"
        )
        raise ValidationFailed(f"types: {message}", extra={"errors": [{"field": "types", "message": message}]})
    return EventFilter(types=frozenset(exact), prefixes=tuple(prefixes), agent_id=agent)
