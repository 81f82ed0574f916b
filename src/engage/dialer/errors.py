"""Problems of the call-control and preview endpoints (/v1/calls/originate, /v1/calls/{id}/hangup,
/v1/calls/{id}/disposition, /v1/agents/me/preview*)."""

from __future__ import annotations

from engage.core.errors import Conflict, Forbidden, NotFound


class ComplianceBlocked(Forbidden):
    """The seed's 403 of POST /v1/calls/originate: `detail` is the blocking reason and the body carries
    `compliance: {allowed: false, rule, rule_version, audit_ref}`."""

    slug = "compliance-blocked"
    title = "Call blocked by compliance"


class NotYourAgent(Forbidden):
    slug = "originate-for-another-agent"
    title = "Agents place calls only for themselves"


class CallNotFound(NotFound):
    """Unknown, of another tenant, or (for an agent) another agent's call: all look the same."""

    slug = "call-not-found"
    title = "Call not found"


class ContactNotFound(NotFound):
    slug = "contact-not-found"
    title = "Contact not found"


class NoCallerId(Conflict):
    slug = "no-caller-id"
    title = "No caller ID to present"


class AgentNotAvailable(Conflict):
    slug = "agent-not-available"
    title = "Agent not available"


class CallEnded(Conflict):
    slug = "call-ended"
    title = "Call has ended"


class CallWithoutAgent(Conflict):
    slug = "call-without-agent"
    title = "Call has no agent"


class PreviewNotHeld(Conflict):
    slug = "preview-not-held"
    title = "Contact is not held for you"


class CampaignNotActive(Conflict):
    slug = "campaign-not-active"
    title = "Campaign is not active"
