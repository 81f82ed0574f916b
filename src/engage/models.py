"""Every table, imported in one place so Alembic and the test suite see the whole schema."""

from __future__ import annotations

from engage.agents.models import AgentState, AgentStateHistory, SipRegistration
from engage.auth.models import RefreshToken
from engage.calls.models import Call
from engage.campaigns.models import Campaign, CampaignAgent, CampaignHourly, CampaignStats
from engage.cli_groups.models import CliGroup, CliNumber
from engage.compliance.models import AuditEntry, DialAttempt
from engage.consents.models import Consent
from engage.contacts.models import Contact
from engage.core.db import Base
from engage.core.outbox import OutboxEvent
from engage.dnc.models import DncEntry
from engage.recordings.models import Recording, RecordingSettings
from engage.registry.models import RegistryLoad, RegistryNumber
from engage.tenancy.models import Tenant
from engage.users.models import Team, User
from engage.webhooks.models import WebhookDelivery, WebhookSubscription

metadata = Base.metadata

__all__ = [
    "AgentState",
    "AgentStateHistory",
    "AuditEntry",
    "Call",
    "Campaign",
    "CampaignAgent",
    "CampaignHourly",
    "CampaignStats",
    "CliGroup",
    "CliNumber",
    "Consent",
    "Contact",
    "DialAttempt",
    "DncEntry",
    "OutboxEvent",
    "Recording",
    "RecordingSettings",
    "RefreshToken",
    "RegistryLoad",
    "RegistryNumber",
    "SipRegistration",
    "Team",
    "Tenant",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
    "metadata",
]
