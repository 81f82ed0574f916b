"""Problems of the agents domain."""

from __future__ import annotations

from engage.core.errors import Conflict, Forbidden, NotFound


class AgentNotFound(NotFound):
    """No active user with role agent of the caller's tenant has this id (another tenant's agent, a
    supervisor or admin, a deactivated agent and an unknown id all look the same)."""

    slug = "agent-not-found"
    title = "Agent not found"


class NotAnAgent(Forbidden):
    """POST /v1/agents/me/state by a caller who has no availability of their own (a supervisor or admin,
    or an agent whose account was deactivated while the token was still valid)."""

    slug = "not-an-agent"
    title = "Caller is not an agent"


class AgentOnCall(Conflict):
    """A status change for an agent the dialer has reserved for a call or put on one. The dialer owns those states
    until the call ends (then wrap-up, which the agent may leave): changing it mid-call would make the agent look
    free and be offered a second call while still on the first."""

    slug = "agent-on-call"
    title = "Agent is on a call"
