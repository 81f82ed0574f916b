"""Problems of the event stream."""

from __future__ import annotations

from typing import ClassVar

from engage.core.errors import BadRequest, ProblemError


class InvalidLastEventId(BadRequest):
    """The resume point is not an event id of the caller's tenant. Malformed, unknown and another tenant's ids get
    the same answer, so the answer tells nothing about other tenants' events."""

    slug = "invalid-last-event-id"
    title = "Invalid Last-Event-ID"


class StreamUnavailable(ProblemError):
    """This process is not serving live events (starting or shutting down); another replica, or a retry, will."""

    status: ClassVar[int] = 503
    slug = "event-stream-unavailable"
    title = "Event stream unavailable"
