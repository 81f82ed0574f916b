"""Problems of the recordings domain."""

from __future__ import annotations

from typing import ClassVar

from engage.core.errors import Conflict, NotFound, ProblemError


class RecordingNotFound(NotFound):
    """No recording with this id that the caller may see: another tenant's, an unknown id, a colleague's for an
    agent, and one deleted (by an admin or the retention purge) all answer 404; a deleted one says so."""

    slug = "recording-not-found"
    title = "Recording not found"


class RecordingNotReady(Conflict):
    """The call was recorded and its audio is still on its way to storage (seconds, unless storage is down)."""

    slug = "recording-not-ready"
    title = "Recording not ready yet"


class StorageUnavailable(ProblemError):
    status: ClassVar[int] = 503
    slug = "storage-unavailable"
    title = "Recording storage unavailable"
