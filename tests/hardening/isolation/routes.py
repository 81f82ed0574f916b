"""The routes the matrix covers, read from the app itself (`engage.main.create_app`), and what the matrix needs to
call each: the kind of tenant-A resource each path parameter names, and a valid body for each route that takes one.

A route the tables below do not cover fails its test with a message naming the table to extend: that is how a new
route cannot slip past the matrix.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import SecretStr

from engage.config import DatabaseSettings, JwtSettings, Settings
from engage.core.deps import permission_of
from engage.core.ids import new_id
from engage.core.principal import ROLE_PERMISSIONS, Permission, Role
from engage.main import create_app

# The routes that take a credential other than an access token (an email and password, a refresh token): they
# have no tenant until that credential names one, and tests/auth covers them.
SIGN_IN = {("POST", "/v1/auth/login"), ("POST", "/v1/auth/refresh"), ("POST", "/v1/auth/logout")}

_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    route: APIRoute

    @property
    def parameters(self) -> list[str]:
        return _PARAMETER.findall(self.path)

    @property
    def takes_body(self) -> bool:
        return self.route.body_field is not None

    @property
    def permissions(self) -> set[Permission]:
        """The permissions the route's dependencies check (`require`, `scoped`, `reading`, a declared one)."""
        return {
            found
            for dependency in self.route.dependant.dependencies
            if dependency.call is not None and (found := permission_of(dependency.call)) is not None
        }

    def allows(self, role: Role) -> bool:
        """Whether `role` passes the route's permission checks (what it may then see is the service's call)."""
        return self.permissions <= ROLE_PERMISSIONS[role]

    def url(self, values: dict[str, str]) -> str:
        return _PARAMETER.sub(lambda match: values[match.group(1)], self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations(app: FastAPI) -> list[Operation]:
    """Every /v1 operation of the app with a bearer token (sign-in aside), included routers flattened."""
    found = [
        Operation(method, str(context.path), context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and str(context.path).startswith("/v1/")
        for method in sorted(context.methods or ())
        if method != "HEAD"
    ]
    return [operation for operation in found if (operation.method, operation.path) not in SIGN_IN]


def collection_app() -> FastAPI:
    """The app as `create_app` builds it, for parametrising at collection time (no database is touched until the
    lifespan runs, and it never does here); `test_the_matrix_covers_the_apps_routes` checks it is the same list as
    the app under test."""
    settings = Settings(
        database=DatabaseSettings(url="postgresql://unused@127.0.0.1:9/unused"),
        jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(40))),
    )
    return create_app(settings)


@dataclass(frozen=True)
class Kind:
    """What a path parameter names: the `TenantData` accessor that seeds tenant A's one, and an id that names no
    resource at all (for the no-existence-oracle comparison)."""

    seed: str
    missing: Callable[[], str]


def _missing_id() -> str:
    return str(new_id())


# Path parameter -> the kind of resource it names. Add a new parameter here.
KINDS: dict[str, Kind] = {
    "call_id": Kind("call_id", _missing_id),
    "agent_id": Kind("agent_id", _missing_id),
    "audit_ref": Kind("audit_ref", lambda: f"AUD-{900_000_000 + secrets.randbelow(99_999_999)}"),
    "campaign_id": Kind("campaign_id", _missing_id),
    "user_id": Kind("user_id", _missing_id),
    "cli_group_id": Kind("cli_group_id", _missing_id),
    "entry_id": Kind("entry_id", _missing_id),
    "consent_id": Kind("consent_id", _missing_id),
    "webhook_id": Kind("webhook_id", _missing_id),
    "delivery_id": Kind("delivery_id", _missing_id),
    "recording_id": Kind("recording_id", _missing_id),
}

# (method, path) -> a valid body for a route with an id, so validation (400/422) cannot stand in for the 404.
ID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/agents/{agent_id}/state"): {"state": "break", "reason": "Short break"},
    ("PATCH", "/v1/campaigns/{campaign_id}"): {"name": "Renamed by another tenant", "max_attempts": 5},
    ("POST", "/v1/campaigns/{campaign_id}/agents"): {"agent_ids": ["<b.agent>"]},
    ("POST", "/v1/campaigns/{campaign_id}/contacts"): {"contacts": [{"phone": "+971501110000", "first_name": "X"}]},
    ("POST", "/v1/campaigns/{campaign_id}/forecast"): {"agents": 5, "hours": 2},
    ("PATCH", "/v1/users/{user_id}"): {"full_name": "Renamed by another tenant", "is_active": False},
    ("POST", "/v1/consents/{consent_id}/withdraw"): {},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"is_active": False},
    ("POST", "/v1/calls/{call_id}/disposition"): {"disposition": "sale", "notes": "x", "add_to_dnc": True},
}


# Query parameters that name a resource -> the reference of tenant A a request of B puts there.
FILTERS: dict[str, str] = {
    "campaign_id": "campaign_id",
    "agent_id": "agent_id",
    "team_id": "team_id",
    "phone": "consent_phone",
}

_REPORT_PERIOD = {"from": "2026-06-01T00:00:00Z", "to": "2026-06-30T23:59:59Z"}

# Operations without an id that read (search, report): (method, path) -> bodies naming nothing of A, and bodies
# naming A's things through `<a.…>` placeholders (`resolve`). Add a new reading route without an id here.
READS: dict[tuple[str, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    ("POST", "/v1/contacts/search"): (
        [{"q": "<a.mark>", "limit": 100}, {"q": "Ahmad", "limit": 100}, {"q": "9715", "limit": 100}],
        [
            {"q": "<a.contact_phone>", "limit": 100},
            {"q": "Sara", "campaign_id": "<a.campaign_id>", "limit": 100},
        ],
    ),
    ("POST", "/v1/reports/export"): (
        # Every report in CSV, and JSON once: the formats write the same rows, which the statements choose.
        [
            *(
                {"report_type": kind, "format": "csv", **_REPORT_PERIOD}
                for kind in ("call_detail", "campaign_summary", "agent_performance", "disposition_summary")
            ),
            {"report_type": "call_detail", "format": "json", **_REPORT_PERIOD},
        ],
        [
            {"report_type": "call_detail", "format": "csv", "campaign_id": "<a.campaign_id>", **_REPORT_PERIOD},
            {"report_type": "agent_performance", "format": "json", "agent_ids": ["<a.agent_id>"], **_REPORT_PERIOD},
        ],
    ),
}

# Operations without an id that change something: (method, path) -> bodies naming A's things. B's request must
# change nothing of A and answer as it does for the same body naming things that do not exist. Add a new one here.
WRITES: dict[tuple[str, str], list[dict[str, Any] | None]] = {
    # First what asks about A's numbers and things, before B's own writes below put A's numbers on B's lists
    # (B may: a DNC entry or a caller ID of B's own), which would rightly change these answers.
    ("POST", "/v1/compliance/check"): [
        {"phone": "<a.contact_phone>", "campaign_id": "<a.campaign_id>"},
        {"phone": "<a.contact_phone>", "cli": "<a.cli_number>"},
        {"phone": "<a.consent_phone>"},
    ],
    ("POST", "/v1/calls/originate"): [
        {"agent_id": "<a.agent_id>", "destination": "<a.contact_phone>"},
        {"agent_id": "<b.agent_id>", "destination": "+971501112233", "campaign_id": "<a.campaign_id>"},
        {"agent_id": "<b.agent_id>", "destination": "+971501112233", "cli_override": "<a.cli_number>"},
    ],
    ("POST", "/v1/agents/me/preview/dial"): [{"contact_id": "<a.contact_id>"}],
    ("POST", "/v1/agents/me/preview/skip"): [{"contact_id": "<a.contact_id>"}],
    ("POST", "/v1/campaigns"): [
        {"name": "<fresh>", "dialing_mode": "progressive", "cli_group_id": "<a.cli_group_id>"},
    ],
    ("POST", "/v1/users"): [
        {
            "email": "<fresh.email>",
            "password": "a long enough secret",
            "full_name": "New Agent",
            "role": "agent",
            "team_id": "<a.team_id>",
        },
    ],
    ("POST", "/v1/teams"): [{"name": "<a.team_name>"}],
    ("POST", "/v1/cli-groups"): [{"name": "<a.cli_group_name>", "numbers": ["<a.cli_number>"]}],
    ("POST", "/v1/dnc"): [{"phones": ["<a.contact_phone>"], "reason": "Opt-out"}],
    ("POST", "/v1/consents"): [{"phone": "<a.consent_phone>", "source": "web_form"}],
    ("POST", "/v1/webhooks"): [{"url": "https://93.184.215.14/hooks/b", "events": ["dnc.added"]}],
    ("PUT", "/v1/recordings/retention"): [{"retention_days": 7}],
    # `available`: B's agent stays able to take calls.
    ("POST", "/v1/agents/me/state"): [{"state": "available", "reason": "<a.mark>"}],
    ("POST", "/v1/events/stream-token"): [None],
}

_PLACEHOLDER = re.compile(r"<([a-z_.]+)>")


def missing_value(name: str) -> str:
    """A value of the same kind as tenant A's `name` that names nothing at all."""
    if name.endswith("_id"):
        return str(new_id())
    if name.endswith(("_phone", "_number")):
        return f"+97150{secrets.randbelow(10_000_000):07d}"
    return secrets.token_hex(5)


def resolve(template: Any, values: dict[str, str]) -> Any:
    """`template` with each `<name>` string replaced by `values[name]` (`<fresh>`, `<fresh.email>`: new each time)."""
    if isinstance(template, dict):
        return {key: resolve(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [resolve(item, values) for item in template]
    if isinstance(template, str) and (match := _PLACEHOLDER.fullmatch(template)):
        name = match.group(1)
        if name == "fresh":
            return f"Fresh {secrets.token_hex(4)}"
        if name == "fresh.email":
            return f"fresh-{secrets.token_hex(4)}@globex.test"
        return values[name]
    return template


def placeholders(template: Any) -> set[str]:
    """The `<a.…>` names a template uses."""
    found = set(_PLACEHOLDER.findall(repr(template)))
    return {name for name in found if name.startswith("a.")}
