"""Problems of the contacts domain."""

from __future__ import annotations

from engage.core.errors import Conflict, NotFound, ProblemError


class CampaignNotFound(NotFound):
    slug = "campaign-not-found"
    title = "Campaign not found"


class CampaignCompleted(Conflict):
    slug = "campaign-completed"
    title = "Campaign is completed"


class TooManyContacts(ProblemError):
    # 413, not 400: nothing in the request is wrong except its size; the client's fix is to split it.
    status = 413
    slug = "too-many-contacts"
    title = "Too many contacts in one request"
