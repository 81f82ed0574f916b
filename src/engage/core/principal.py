"""Who is calling: the principal a valid access token names, and what each role may do.

One matrix maps roles to permissions; endpoints ask for a permission, never for a role, so the matrix is
the single place that says who may do what.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    agent = "agent"
    supervisor = "supervisor"
    admin = "admin"


class Permission(StrEnum):
    users_read = "users:read"
    users_write = "users:write"
    teams_read = "teams:read"
    teams_write = "teams:write"
    cli_groups_read = "cli_groups:read"
    cli_groups_write = "cli_groups:write"
    campaigns_read = "campaigns:read"
    campaigns_write = "campaigns:write"
    contacts_read = "contacts:read"
    contacts_write = "contacts:write"
    agents_read = "agents:read"
    # An agent changing its own availability; `agents_state_manage` is changing anyone's.
    agents_state_self = "agents:state:self"
    agents_state_manage = "agents:state:manage"
    dnc_read = "dnc:read"
    dnc_write = "dnc:write"
    dnc_delete = "dnc:delete"
    compliance_check = "compliance:check"
    compliance_rules_read = "compliance:rules:read"
    registries_read = "compliance:registries:read"
    compliance_audit_read = "compliance:audit:read"
    consents_read = "consents:read"
    consents_write = "consents:write"
    # Every role reads calls; an agent only its own (the service narrows it).
    calls_read = "calls:read"
    # Placing, ending and dispositioning calls: an agent for its own calls, supervisors and admins for any.
    calls_control = "calls:control"
    # An agent's own preview dialling (GET/POST /v1/agents/me/preview*).
    preview_dial = "preview:dial"
    # Admins alone: a webhook sends the tenant's events to an outside URL.
    webhooks_manage = "webhooks:manage"
    # Every role lists and plays recordings; an agent only its own (the service narrows it).
    recordings_read = "recordings:read"
    # Admins alone delete recordings and set how long they are kept.
    recordings_manage = "recordings:manage"
    # Every role exports reports; an agent only its own calls and performance (the service narrows it).
    reports_export = "reports:export"
    # Every role follows the tenant's live events; an agent only those about itself (the stream narrows it).
    events_stream = "events:stream"


# Agents dial by hand (preview, manual originate), so they may ask the compliance engine and read what it
# enforces; the audit trail of everyone's decisions is for supervisors.
_AGENT = frozenset(
    {
        Permission.campaigns_read,
        Permission.contacts_read,
        Permission.agents_state_self,
        Permission.compliance_check,
        Permission.compliance_rules_read,
        Permission.registries_read,
        Permission.consents_read,
        Permission.calls_read,
        Permission.calls_control,
        Permission.preview_dial,
        Permission.recordings_read,
        Permission.reports_export,
        Permission.events_stream,
    }
)
_SUPERVISOR = _AGENT | {
    Permission.teams_read,
    Permission.cli_groups_read,
    Permission.campaigns_write,
    Permission.contacts_write,
    Permission.agents_read,
    Permission.agents_state_manage,
    Permission.dnc_read,
    Permission.dnc_write,
    Permission.compliance_audit_read,
    Permission.consents_write,
}

# Admins alone manage users, teams and caller IDs (the numbers a tenant may present are a compliance matter)
# and remove numbers from the DNC list.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.agent: _AGENT,
    Role.supervisor: _SUPERVISOR,
    Role.admin: frozenset(Permission),
}


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def own_agent_id(self) -> uuid.UUID | None:
        """The agent whose rows alone the caller may read where an agent sees only its own (calls, recordings):
        itself if it is an agent; None (everyone's in the tenant) otherwise."""
        return self.user_id if self.role is Role.agent else None
