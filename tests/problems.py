"""The one check of an RFC 7807 response, shared by every API test."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_BASE = "https://engage.broadnet.me/errors/"

# The contract: each problem type and the title it always carries.
TITLES = {
    "compliance-blocked": "Call blocked by compliance",
    "originate-for-another-agent": "Agents place calls only for themselves",
    "call-not-found": "Call not found",
    "contact-not-found": "Contact not found",
    "no-caller-id": "No caller ID to present",
    "agent-not-available": "Agent not available",
    "call-ended": "Call has ended",
    "call-without-agent": "Call has no agent",
    "preview-not-held": "Contact is not held for you",
    "campaign-not-active": "Campaign is not active",
    "forecast-not-available": "No forecast for this campaign",
    "validation-error": "Request validation failed",
    "malformed-json": "Malformed JSON",
    "tenant-id-not-allowed": "tenant_id is not accepted in the body",
    "unauthorized": "Unauthorized",
    "forbidden": "Forbidden",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "payload-too-large": "Payload too large",
    "rate-limited": "Too many requests",
    "internal-error": "Internal server error",
    "invalid-credentials": "Invalid credentials",
    "invalid-refresh-token": "Invalid refresh token",
    "login-throttled": "Too many failed logins",
    "user-not-found": "User not found",
    "unknown-team": "Unknown team",
    "email-taken": "Email already in use",
    "sip-user-taken": "SIP user already in use",
    "team-name-taken": "Team name already in use",
    "self-lockout": "You cannot lock yourself out",
    "invalid-cursor": "Invalid cursor",
    "cli-group-not-found": "CLI group not found",
    "cli-group-name-taken": "CLI group name already in use",
    "cli-number-taken": "Caller ID number already in use",
    "campaign-not-found": "Campaign not found",
    "unknown-cli-group": "Unknown CLI group",
    "unknown-agents": "Unknown agents",
    "campaign-not-editable": "Campaign cannot be edited",
    "invalid-campaign-transition": "Invalid campaign transition",
    "campaign-no-contacts": "Campaign has no contacts",
    "campaign-no-agents": "Campaign has no logged-in agents",
    "dnc-entry-not-found": "DNC entry not found",
    "too-many-phones": "Too many phone numbers",
    "agent-not-found": "Agent not found",
    "not-an-agent": "Caller is not an agent",
    "campaign-completed": "Campaign is completed",
    "too-many-contacts": "Too many contacts in one request",
    "recording-not-found": "Recording not found",
    "recording-not-ready": "Recording not ready yet",
    "storage-unavailable": "Recording storage unavailable",
    "file-url-invalid": "File URL invalid",
    "file-url-expired": "File URL expired",
    "file-not-found": "File not found",
    "invalid-last-event-id": "Invalid Last-Event-ID",
    "event-stream-unavailable": "Event stream unavailable",
    "agent-on-call": "Agent is on a call",
}

# The seed's 401 body for a failed login, word for word ("Authentication", POST /v1/auth/login).
SEED_INVALID_CREDENTIALS = {
    "type": "https://engage.broadnet.me/errors/invalid-credentials",
    "title": "Invalid credentials",
    "status": 401,
    "detail": "Email or password is incorrect.",
}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Assert `response` is the problem `slug` with `status`, rendered in full (media type, the five
    members, its fixed title, `instance` equal to `X-Request-ID`); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug
    assert isinstance(body["title"], str)
    assert body["title"]
    if slug in TITLES:
        assert body["title"] == TITLES[slug]
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["instance"]
    assert body["instance"] == response.headers["x-request-id"]
    return body


def without_instance(body: dict[str, Any]) -> dict[str, Any]:
    """A problem body minus its per-request `instance`, for comparing two responses."""
    return {key: value for key, value in body.items() if key != "instance"}


def error_fields(body: dict[str, Any]) -> set[str]:
    """The fields a validation problem names in `errors`."""
    return {error["field"] for error in body["errors"]}
