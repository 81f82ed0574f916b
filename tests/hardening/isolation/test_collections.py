"""Everything tenant B reads shows nothing of tenant A, for each of B's roles: every GET of the app (lists, counts,
boards, B's own resources and their nested lists, B's webhook's deliveries once the dispatcher has fanned out both
tenants' events), contact search and every report. Not one of A's ids, phones or names appears, B's answers are the
same before and after A's data exists, and B's reading changes nothing of A. A request of B that names A's things
(a filter, a search, a report's campaign) is answered as if they did not exist.

The GET routes come from the app; an operation without an id that is not a GET must be listed in `routes.READS` or
`routes.WRITES`, so a new search or report route cannot slip past."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from engage.core.principal import Role

from .routes import FILTERS, READS, WRITES, collection_app, missing_value, operations, resolve
from .world import TenantData, changes, fan_out_webhooks, snapshot

OPERATIONS = operations(collection_app())
STREAM = ("GET", "/v1/events/stream")
GETS = [o for o in OPERATIONS if o.method == "GET" and (o.method, o.path) != STREAM]

# Collections that name A's data to A's admin once A has some: proof that the seed reaches them.
SEEDED_COLLECTIONS = [
    "/v1/calls",
    "/v1/agents/state",
    "/v1/campaigns",
    "/v1/users",
    "/v1/teams",
    "/v1/cli-groups",
    "/v1/dnc",
    "/v1/consents",
    "/v1/webhooks",
    "/v1/recordings",
]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str] | None = None
    body: Any = None

    def __str__(self) -> str:
        shown = f" {self.params}" if self.params else ""
        return f"{self.method} {self.path}{shown}" + (f" {json.dumps(self.body)}" if self.body is not None else "")


async def _send(client: httpx.AsyncClient, request: Request, headers: dict[str, str]) -> httpx.Response:
    return await client.request(request.method, request.path, params=request.params, json=request.body, headers=headers)


def _answer(response: httpx.Response, values: dict[str, str] | None = None) -> tuple[int, Any]:
    """What a response says, without its per-request `instance`; the `values` a request named written as `<ref>`."""
    text = response.text
    for value in (values or {}).values():
        text = text.replace(value, "<ref>")
    try:
        body = json.loads(text)
    except ValueError:
        return response.status_code, text
    if isinstance(body, dict):
        body.pop("instance", None)
    return response.status_code, body


async def _own_values(b: TenantData) -> dict[str, str]:
    """Path values naming B's own resources (for GETs with an id: B reading its own campaign's contacts, etc.)."""
    references = await b.references()
    return {
        **{name: references[name] for name in ("campaign_id", "agent_id", "cli_group_id")},
        "call_id": str(await b.call_id()),
        "user_id": str(b.staff.agent.id),
        "webhook_id": str(await b.webhook_id()),
        "recording_id": str(await b.recording_id()),
        "audit_ref": await b.audit_ref(),
        "entry_id": str(await b.entry_id()),
        "consent_id": str(await b.consent_id()),
        "delivery_id": str(await b.delivery_id()),
    }


async def _plain_requests(a: TenantData, b: TenantData) -> list[Request]:
    """Every GET (with B's own ids where it has any) and every reading body that names nothing of A but its mark
    (a search for A's names)."""
    own = await _own_values(b)
    requests = [Request("GET", operation.url(own)) for operation in GETS]
    for (method, path), (bodies, _) in READS.items():
        requests += [Request(method, path, body=resolve(body, {"a.mark": a.mark})) for body in bodies]
    return requests


def _referring_templates(b_own: dict[str, str]) -> list[Request]:
    """GETs filtered by A's things, and reading bodies that name A's things (templates with `<a.…>`)."""
    templates = []
    for operation in GETS:
        names = {parameter.alias for parameter in operation.route.dependant.query_params}
        for name in sorted(names & set(FILTERS)):
            templates.append(Request("GET", operation.url(b_own), params={name: f"<a.{FILTERS[name]}>"}))
    for (method, path), (_, bodies) in READS.items():
        templates += [Request(method, path, body=body) for body in bodies]
    return templates


def _filled(template: Request, values: dict[str, str]) -> Request:
    return Request(template.method, template.path, resolve(template.params, values), resolve(template.body, values))


def test_every_operation_without_an_id_is_a_get_or_listed_as_a_read_or_a_write() -> None:
    unlisted = [
        str(operation)
        for operation in OPERATIONS
        if operation.method != "GET"
        and not operation.parameters
        and (operation.method, operation.path) not in READS
        and (operation.method, operation.path) not in WRITES
    ]

    assert unlisted == [], (
        "add each to READS (it reads: search, report) or WRITES (it changes something) in "
        f"tests/hardening/isolation/routes.py: {unlisted}"
    )


async def test_nothing_tenant_b_reads_shows_or_depends_on_tenant_a(
    client: httpx.AsyncClient, owner: asyncpg.Connection, a: TenantData, b: TenantData
) -> None:
    """Each of B's roles, every read, before and after A has data (one seeding for all three roles: it is the
    costly part)."""
    requests = await _plain_requests(a, b)
    await fan_out_webhooks(b.runtime)  # B's own events become deliveries of B's webhook
    before = {role: [_answer(await _send(client, r, b.staff.headers(role))) for r in requests] for role in Role}

    await a.everything()
    await fan_out_webhooks(a.runtime)  # A's events must become deliveries of A's webhook alone
    seeded = await snapshot(owner, a.tenant_id)

    found: list[str] = []
    for role in Role:
        for request, earlier in zip(requests, before[role], strict=True):
            response = await _send(client, request, b.staff.headers(role))
            assert response.status_code < 500, f"{role.value} of B: {request}: {response.text}"
            if leaked := a.leaks(response.text):
                found.append(f"{role.value} of B: {request} shows tenant A's {leaked}")
            if _answer(response) != earlier:
                found.append(f"{role.value} of B: {request} answers differently once A has data: {response.text}")
    assert found == []
    # Reading changed nothing of A either (a preview, for one, holds a contact).
    assert changes(seeded, await snapshot(owner, a.tenant_id)) == {}
    # The other side: the collections do show A's data, to A, so their silence towards B means something.
    silent = [
        path for path in SEEDED_COLLECTIONS if not a.leaks((await client.get(path, headers=a.staff.headers())).text)
    ]
    assert silent == []
    deliveries = await client.get(f"/v1/webhooks/{await a.webhook_id()}/deliveries", headers=a.staff.headers())
    assert deliveries.json()["total"] > 1  # the seeded one, and the fanned-out events of A's DNC entry and call


async def test_a_request_naming_tenant_as_things_is_answered_as_if_they_did_not_exist(
    client: httpx.AsyncClient, a: TenantData, b: TenantData
) -> None:
    theirs = {f"a.{name}": value for name, value in (await a.references()).items()}
    templates = _referring_templates(await _own_values(b))
    assert len(templates) >= 10  # filters of calls, recordings, users, consents...; search; reports

    found: list[str] = []
    for role in Role:
        headers = b.staff.headers(role)
        for template in templates:
            nothing = {name: missing_value(name.removeprefix("a.")) for name in theirs}
            named = _filled(template, theirs)
            response = await _send(client, named, headers)
            absent = await _send(client, _filled(template, nothing), headers)
            what = f"{role.value} of B: {named}"
            assert response.status_code < 500, f"{what}: {response.text}"
            # What B itself sent may come back (a 404 naming the id asked for); anything else of A may not.
            sent = theirs.values()
            if leaked := [marker for marker in a.leaks(response.text) if not any(marker in v for v in sent)]:
                found.append(f"{what} shows tenant A's {leaked}")
            if _answer(response, theirs) != _answer(absent, nothing):
                found.append(f"{what} answers unlike a request naming nothing: {response.text} vs {absent.text}")
    assert found == []
