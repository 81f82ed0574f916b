from __future__ import annotations

from engage.core.errors import Conflict, NotFound, ProblemError


class CampaignNotFound(NotFound):
    slug = "campaign-not-found"
    title = "Campaign not found"


class UnknownCliGroup(ProblemError):
    status = 422
    slug = "unknown-cli-group"
    title = "Unknown CLI group"


class UnknownAgents(ProblemError):
    status = 422
    slug = "unknown-agents"
    title = "Unknown agents"


class CampaignNotEditable(Conflict):
    slug = "campaign-not-editable"
    title = "Campaign cannot be edited"


class InvalidCampaignTransition(Conflict):
    slug = "invalid-campaign-transition"
    title = "Invalid campaign transition"


class CampaignNoContacts(Conflict):
    slug = "campaign-no-contacts"
    title = "Campaign has no contacts"


class CampaignNoAgents(Conflict):
    slug = "campaign-no-agents"
    title = "Campaign has no logged-in agents"
