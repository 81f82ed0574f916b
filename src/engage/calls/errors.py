"""Problems of the calls domain."""

from __future__ import annotations

from engage.core.errors import NotFound


class CallNotFound(NotFound):
    """No call with this id that the caller may see: another tenant's call, an unknown id and, for an agent, a
    colleague's call all look the same."""

    slug = "call-not-found"
    title = "Call not found"
