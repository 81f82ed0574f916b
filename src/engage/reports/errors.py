"""Problems of the reports domain."""

from __future__ import annotations

from typing import ClassVar

from engage.core.errors import Forbidden, ProblemError


class ReportNotAllowed(Forbidden):
    """An agent asked for a report beyond its own calls and performance."""

    slug = "report-not-allowed"
    title = "Report not allowed"


class ExportStorageUnavailable(ProblemError):
    status: ClassVar[int] = 503
    slug = "export-storage-unavailable"
    title = "Export storage unavailable"
