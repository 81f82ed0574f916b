"""No input makes a 500. Every route is walked from the app's own OpenAPI document: each string of its JSON body
(nested objects, list items, dict keys and values included) and each string query or path parameter is sent
with a NUL, each number with a value no column holds; the answer is a 400 `validation-error` problem naming the
field, and no table gains or loses a row. A route or field added tomorrow is walked without touching this file.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from engage.config import JwtSettings, Settings
from engage.core.errors import printable
from engage.core.principal import Role
from engage.main import create_app
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem

NUL_TEXT = "Ah\x00mad"
# JSON's escape for an unpaired surrogate: Python's decoder accepts it, UTF-8 cannot encode it.
SURROGATE_TEXT = "Ah\ud800mad"
# Out of every integer column (BIGINT ends at 2**63 - 1), as the issue's `limit=99999999999999999999`.
HUGE = 99_999_999_999_999_999_999
BAD_NUMBERS: tuple[object, ...] = (HUGE, -HUGE, math.nan, math.inf, -math.inf)
# Valid ISO-8601 with an offset, but with no UTC year PostgreSQL (or Python) can hold.
BAD_INSTANTS = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")

Loc = tuple[str | int, ...]


def _openapi() -> dict[str, Any]:
    # Building the app reads no database: routes and schemas are all the document needs.
    app = create_app(Settings(jwt=JwtSettings(secret=SecretStr("openapi-walk-" * 4))))
    return app.openapi()


DOC = _openapi()
COMPONENTS: dict[str, Any] = DOC["components"]["schemas"]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = COMPONENTS[schema["$ref"].rsplit("/", 1)[1]]
    # A lone `allOf` wraps a reference (pydantic's way to add a description to one); beside a `type` it only adds
    # constraints, such as a pattern, to the schema it sits in.
    if "allOf" in schema and len(schema["allOf"]) == 1 and "type" not in schema:
        return _resolve(schema["allOf"][0])
    return schema


def _alternatives(schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return [alt for option in schema[union] for alt in _alternatives(option)]
    return [schema]


def _sample(schema: dict[str, Any]) -> object:
    """A small value of `schema`'s type (a dict key's partner value), valid for the simple types it meets."""
    first = _alternatives(schema)[0]
    kind = first.get("type")
    if "enum" in first:
        return first["enum"][0]
    return {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}.get(str(kind))


def _slots(schema: dict[str, Any], leaf: str, bad: object) -> Iterator[tuple[Loc, object]]:
    """Each place in a value of `schema` whose type is `leaf` ("string", "number" or "date-time"), as (its location, the
    smallest JSON value of `schema` that holds `bad` there)."""
    seen: set[Loc] = set()
    for alternative in _alternatives(schema):
        for loc, value in _slots_of(alternative, leaf, bad):
            if loc not in seen:
                seen.add(loc)
                yield loc, value


def _slots_of(schema: dict[str, Any], leaf: str, bad: object) -> Iterator[tuple[Loc, object]]:
    kind = schema.get("type")
    if (
        kind == leaf
        or (leaf == "number" and kind == "integer")
        or (leaf == "date-time" and kind == "string" and schema.get("format") == "date-time")
    ):
        yield (), bad
    elif kind == "array" and "items" in schema:
        for loc, value in _slots(schema["items"], leaf, bad):
            yield (0, *loc), [value]
    elif kind == "object":
        for name, member in schema.get("properties", {}).items():
            for loc, value in _slots(member, leaf, bad):
                yield (name, *loc), {name: value}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for loc, value in _slots(extra, leaf, bad):
                yield ("k", *loc), {"k": value}
            if leaf == "string" and isinstance(bad, str):
                # The key itself; the problem names it with the NUL written out, never raw.
                yield (printable(bad),), {bad: _sample(extra)}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    where: str  # body | query | path
    field: str  # as the problem must name it
    body: object = None
    params: dict[str, str] = field(default_factory=dict)
    path_values: dict[str, str] = field(default_factory=dict)
    sent: str = ""  # the bad value, when one field is probed with several

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where}:{self.field}{self.sent}"


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in DOC["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    return content["application/json"]["schema"] if "application/json" in content else None


def _is_a(schema: dict[str, Any], kind: str) -> bool:
    return any(alt.get("type") == kind for alt in _alternatives(schema))


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def text_probes(bad: str, *, parameters: bool) -> list[Probe]:
    probes = []
    for method, path, operation in _operations():
        schema = _body_schema(operation)
        if schema is not None:
            for loc, body in _slots(schema, "string", bad):
                probes.append(Probe(method, path, "body", _dotted(loc), body=body))
        if not parameters:
            continue
        for parameter in operation.get("parameters", []):
            if not _is_a(parameter["schema"], "string"):
                continue
            name = parameter["name"]
            if parameter["in"] == "query":
                probes.append(Probe(method, path, "query", name, params={name: bad}))
            elif parameter["in"] == "path":
                probes.append(Probe(method, path, "path", name, path_values={name: bad}))
    return probes


def number_probes() -> list[Probe]:
    probes = []
    for method, path, operation in _operations():
        schema = _body_schema(operation)
        if schema is not None:
            for bad in BAD_NUMBERS:
                for loc, body in _slots(schema, "number", bad):
                    probes.append(Probe(method, path, "body", _dotted(loc), body=body, sent=f"={bad}"))
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and _is_a(parameter["schema"], "integer"):
                name = parameter["name"]
                probes.append(Probe(method, path, "query", name, params={name: str(HUGE)}))
    return probes


def instant_probes() -> list[Probe]:
    probes = []
    for method, path, operation in _operations():
        schema = _body_schema(operation)
        for bad in BAD_INSTANTS:
            if schema is not None:
                for loc, body in _slots(schema, "date-time", bad):
                    probes.append(Probe(method, path, "body", _dotted(loc), body=body, sent=f"={bad}"))
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and any(
                    alt.get("format") == "date-time" for alt in _alternatives(parameter["schema"])
                ):
                    name = parameter["name"]
                    probes.append(Probe(method, path, "query", name, params={name: bad}, sent=f"={bad}"))
    return probes


NUL_PROBES = text_probes(NUL_TEXT, parameters=True)
# Query strings and paths are percent-decoded with replacement characters, so a surrogate arrives only in JSON.
SURROGATE_PROBES = text_probes(SURROGATE_TEXT, parameters=False)
NUMBER_PROBES = number_probes()
INSTANT_PROBES = instant_probes()


@dataclass
class World:
    """A tenant with one row behind each kind of path id a route may need, and a caller of each role."""

    client: httpx.AsyncClient
    owner: asyncpg.Connection
    ids: dict[str, str]
    headers: dict[Role, dict[str, str]]

    def url(self, probe: Probe) -> str:
        path = probe.path
        for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
            value = probe.path_values.get(name) or self.ids.get(name) or str(uuid.uuid4())
            path = path.replace("{" + name + "}", quote(value, safe=""))
        return path

    async def send(self, probe: Probe) -> httpx.Response:
        content = None if probe.body is None else json.dumps(probe.body).encode()
        response = None
        # The first role the route admits: admin for most, an agent for the agent's own routes.
        for role in (Role.admin, Role.supervisor, Role.agent):
            headers = {**self.headers[role], **({"content-type": "application/json"} if content else {})}
            response = await self.client.request(
                probe.method, self.url(probe), params=probe.params, content=content, headers=headers
            )
            if response.status_code != 403:
                break
        assert response is not None
        return response

    async def rows(self) -> dict[str, int]:
        """Rows in every table of the database (the owner sees through row-level security)."""
        tables = await self.owner.fetch(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        )
        # Names from pg_tables, quoted by quote_ident: identifiers PostgreSQL wrote itself, not input.
        query = " UNION ALL ".join(
            f"SELECT '{t['name']}' AS name, count(*) AS n FROM {t['name']}"  # noqa: S608
            for t in tables
        )
        return {row["name"]: row["n"] for row in await self.owner.fetch(query)}


@pytest.fixture
async def world(client: httpx.AsyncClient, owner: asyncpg.Connection, factory: Factory, tenant: Tenant) -> World:
    admin = await factory.user(tenant, Role.admin)
    supervisor = await factory.user(tenant, Role.supervisor)
    agent: User = await factory.user(tenant, Role.agent, sip_user=f"agent_{uuid.uuid4().hex[:8]}")
    campaign_id = await factory.campaign(tenant)
    headers = {admin.role: factory.headers(admin), Role.supervisor: factory.headers(supervisor)}
    headers[Role.agent] = factory.headers(agent)
    campaign = (await client.get(f"/v1/campaigns/{campaign_id}", headers=headers[Role.admin])).json()
    ids = {
        "campaign_id": str(campaign_id),
        "cli_group_id": campaign["cli_group_id"],
        "user_id": str(agent.id),
        "agent_id": str(agent.id),
    }
    return World(client=client, owner=owner, ids=ids, headers=headers)


def _names(name: str, field: str) -> bool:
    """Whether a problem's `name` names `field`: itself, a part of it (`contacts.0.custom_fields.k.str`), or the
    list it is an item of (`events`, whose own check names the list and quotes the catalogue)."""
    return (
        name == field
        or name.startswith(field + ".")
        or (field.startswith(name + ".") and field[len(name) + 1 :].isdigit())
    )


async def assert_refused(world: World, probe: Probe) -> None:
    before = await world.rows()

    response = await world.send(probe)

    assert response.status_code != 500, f"{probe}: {response.text}"
    assert response.status_code == 400, f"{probe}: {response.text}"
    body = response.json()
    if body["type"].endswith("/validation-error"):
        assert_problem(response, 400, "validation-error")
        named = [error["field"] for error in body["errors"]]
        assert any(_names(name, probe.field) for name in named), f"{probe}: the problem names {named}"
        assert any(_names(name, probe.field) for name in named[:5] if name in body["detail"]), body["detail"]
    else:
        # A problem of its own (an opaque cursor is `invalid-cursor`) still says which parameter it refuses.
        assert_problem(response, 400, body["type"].rsplit("/", 1)[1])
        assert probe.field in body["detail"], f"{probe}: {body['detail']}"
    assert await world.rows() == before, f"{probe} wrote rows"


def _ids(probes: list[Probe]) -> list[str]:
    return [str(probe) for probe in probes]


class TestTheWalkCoversTheApi:
    def test_every_json_body_string_and_string_parameter_is_probed_including_nested_ones(self) -> None:
        probed = {str(probe) for probe in NUL_PROBES}

        # One of each kind the walk must reach: a top-level field, a nested model's field, a list item, a dict
        # value and a dict key inside a list of objects, a query parameter and a path parameter.
        assert "POST /v1/teams body:name" in probed
        assert "PATCH /v1/campaigns/{campaign_id} body:calling_window.start" in probed
        assert "POST /v1/dnc body:phones.0" in probed
        assert "POST /v1/campaigns/{campaign_id}/contacts body:contacts.0.custom_fields.k" in probed
        assert "POST /v1/campaigns/{campaign_id}/contacts body:contacts.0.custom_fields.Ah\\u0000mad" in probed
        assert "GET /v1/dnc query:phone" in probed
        assert "GET /v1/compliance/audit/{audit_ref} path:audit_ref" in probed
        # Every body is walked (an instant is a string in JSON, so even a body of instants alone).
        bodies = {(method, path) for method, path, operation in _operations() if _body_schema(operation)}
        walked = {(probe.method, probe.path) for probe in NUL_PROBES + NUMBER_PROBES if probe.where == "body"}
        assert bodies <= walked

    def test_every_number_of_a_body_and_every_integer_query_parameter_is_probed(self) -> None:
        probed = {str(probe) for probe in NUMBER_PROBES}

        assert f"POST /v1/campaigns body:max_attempts={HUGE}" in probed
        assert "POST /v1/campaigns body:dial_ratio=nan" in probed
        assert "POST /v1/campaigns/{campaign_id}/forecast body:hours=inf" in probed
        assert f"POST /v1/contacts/search body:limit={HUGE}" in probed
        assert "POST /v1/campaigns/{campaign_id}/contacts body:contacts.0.custom_fields.k=-inf" in probed
        assert "GET /v1/calls query:limit" in probed

    def test_every_instant_of_a_body_and_of_the_query_is_probed(self) -> None:
        probed = {str(probe) for probe in INSTANT_PROBES}

        assert f"POST /v1/consents body:granted_at={BAD_INSTANTS[0]}" in probed
        assert f"POST /v1/calls/{{call_id}}/disposition body:callback_at={BAD_INSTANTS[1]}" in probed
        assert f"GET /v1/calls query:from={BAD_INSTANTS[0]}" in probed
        assert f"GET /v1/campaigns query:created_to={BAD_INSTANTS[1]}" in probed


class TestUnstorableText:
    @pytest.mark.parametrize("probe", NUL_PROBES, ids=_ids(NUL_PROBES))
    async def test_a_nul_anywhere_is_a_400_naming_the_field_and_nothing_is_written(
        self, world: World, probe: Probe
    ) -> None:
        await assert_refused(world, probe)

    @pytest.mark.parametrize("probe", SURROGATE_PROBES, ids=_ids(SURROGATE_PROBES))
    async def test_an_unpaired_surrogate_anywhere_in_a_body_is_a_400_naming_the_field_and_nothing_is_written(
        self, world: World, probe: Probe
    ) -> None:
        await assert_refused(world, probe)


class TestOutOfRangeNumbers:
    @pytest.mark.parametrize("probe", NUMBER_PROBES, ids=_ids(NUMBER_PROBES))
    async def test_a_number_no_column_holds_is_a_400_naming_the_field_and_nothing_is_written(
        self, world: World, probe: Probe
    ) -> None:
        await assert_refused(world, probe)


class TestOutOfRangeInstants:
    @pytest.mark.parametrize("probe", INSTANT_PROBES, ids=_ids(INSTANT_PROBES))
    async def test_an_instant_without_a_utc_year_is_a_400_naming_the_field_and_nothing_is_written(
        self, world: World, probe: Probe
    ) -> None:
        await assert_refused(world, probe)


class TestTheProblemReadsWell:
    async def test_a_nul_in_a_team_name_is_named_in_detail_and_errors_and_no_team_is_made(
        self, world: World, factory: Factory, tenant: Tenant
    ) -> None:
        before = await world.rows()

        response = await world.client.post(
            "/v1/teams", json={"name": "Re\x00newals"}, headers=world.headers[Role.admin]
        )

        body = assert_problem(response, 400, "validation-error")
        assert body["detail"] == "name: text must not contain NUL (\\u0000) characters"
        assert body["errors"] == [{"field": "name", "message": "text must not contain NUL (\\u0000) characters"}]
        assert await world.rows() == before

    async def test_a_nul_in_a_path_parameter_is_a_400_naming_it_not_a_lookup(self, world: World) -> None:
        response = await world.client.get("/v1/compliance/audit/ab%00cd", headers=world.headers[Role.admin])

        body = assert_problem(response, 400, "validation-error")
        assert body["errors"] == [{"field": "audit_ref", "message": "text must not contain NUL (\\u0000) characters"}]

    async def test_a_limit_beyond_any_integer_column_is_a_400_naming_limit(self, world: World) -> None:
        response = await world.client.get(
            "/v1/calls", params={"limit": "99999999999999999999"}, headers=world.headers[Role.admin]
        )

        body = assert_problem(response, 400, "validation-error")
        assert [error["field"] for error in body["errors"]] == ["limit"]

    @pytest.mark.parametrize(
        ("raw", "field"),
        [
            pytest.param('"max_attempts": 1e30', "max_attempts", id="max-attempts-1e30"),
            pytest.param('"max_attempts": 99999999999999999999', "max_attempts", id="max-attempts-huge"),
            pytest.param('"dial_ratio": NaN', "dial_ratio", id="dial-ratio-nan"),
            pytest.param('"abandon_rate_target": Infinity', "abandon_rate_target", id="abandon-rate-infinity"),
            pytest.param('"retry_delay_minutes": -99999999999999999999', "retry_delay_minutes", id="retry-negative"),
        ],
    )
    async def test_a_campaign_number_out_of_range_is_a_400_naming_it_and_no_campaign_is_made(
        self, world: World, raw: str, field: str
    ) -> None:
        # Written by hand: NaN and Infinity are not JSON, but Python's decoder (and so the API's) reads them.
        content = (
            f'{{"name": "Renewals", "dialing_mode": "power", "cli_group_id": "{world.ids["cli_group_id"]}", {raw}}}'
        )
        before = await world.rows()

        response = await world.client.post(
            "/v1/campaigns",
            content=content.encode(),
            headers={**world.headers[Role.admin], "content-type": "application/json"},
        )

        body = assert_problem(response, 400, "validation-error")
        assert [error["field"] for error in body["errors"]] == [field]
        assert body["detail"].startswith(f"{field}: ")
        assert await world.rows() == before

    async def test_an_instant_without_a_utc_year_in_the_query_is_a_400_saying_so(self, world: World) -> None:
        response = await world.client.get(
            "/v1/calls", params={"from": "0001-01-01T00:00:00+01:00"}, headers=world.headers[Role.admin]
        )

        body = assert_problem(response, 400, "validation-error")
        assert body["errors"] == [
            {"field": "from", "message": "instant must fall between years 1 and 9999 once converted to UTC"}
        ]

    async def test_valid_text_with_controls_and_unicode_beyond_the_bmp_is_still_accepted(self, world: World) -> None:
        response = await world.client.post(
            "/v1/teams", json={"name": "Renewals\t😀 أحمد \\x00"}, headers=world.headers[Role.admin]
        )

        assert response.status_code == 201, response.text
        assert response.json()["name"] == "Renewals\t😀 أحمد \\x00"
