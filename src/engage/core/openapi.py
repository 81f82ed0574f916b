"""The OpenAPI document: every operation's real problem responses, one `Problem` schema, stable operation ids
and the links between operations.

A route declares only the refusals its own service makes (`responses=problems(409)`); `install_openapi` adds
the ones that follow from the route's shape, once, when the document is first generated:

- the bearer-token dependency (`current_principal`, `scoped`, `reading`): 401 and 429 (the tenant's rate limit,
  with its headers);
- a permission check (`require`, `scoped` or `reading`): 403, naming the permission and the roles that hold it;
- any path, query or body parameter: 400 (`validation-error`, `malformed-json`, `invalid-cursor`);
- a JSON body: 422 (`tenant_id` in the body, the seed's rule) and 413 (the body-size limit);
- an id in the path: 404 (it does not exist in the caller's tenant).

FastAPI's default 422 `HTTPValidationError` is removed: request validation fails as a 400 problem here
(`core.errors`). Invariant: every 4xx an operation lists is `application/problem+json` with the `Problem` schema,
which is what `core.errors.problem_response` renders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from . import deps
from .errors import PROBLEM_MEDIA_TYPE, problem_type
from .principal import ROLE_PERMISSIONS, Permission

Responses = dict[int | str, dict[str, Any]]

PROBLEM_REF = "#/components/schemas/Problem"

# An example request id, the `instance` of every example problem.
_INSTANCE = "01919a1b-c2d3-7e4f-8a5b-6c7d8e9f0a1b"


class FieldError(BaseModel):
    field: str = Field(description="The offending field, dotted for nested ones (`contacts.0.phone`)")
    message: str


class Problem(BaseModel):
    """RFC 7807 problem details, as `core.errors` renders every error. Problem types may add members of their
    own (`errors` for validation failures; `compliance` for `compliance-blocked`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI of the problem type", examples=[problem_type("validation-error")])
    title: str = Field(description="Fixed per problem type", examples=["Request validation failed"])
    status: int = Field(ge=400, le=599, description="The HTTP status, repeated", examples=[400])
    detail: str = Field(description="What went wrong with this request", examples=["limit: must be between 1 and 200"])
    instance: str = Field(
        description="The request id (also the `X-Request-ID` header); quote it to support", examples=[_INSTANCE]
    )
    errors: list[FieldError] | None = Field(
        default=None, description="Validation failures (`validation-error`): one entry per offending field"
    )


# Each status: its description and an example problem (slug, title, detail).
_STANDARD: dict[int, tuple[str, tuple[str, str, str]]] = {
    400: (
        "The request is malformed or a field is invalid (`validation-error` with `errors`, `malformed-json`, "
        "`invalid-cursor`)",
        ("validation-error", "Request validation failed", "limit: must be between 1 and 200"),
    ),
    401: (
        "No access token, or one that is invalid or expired",
        ("unauthorized", "Unauthorized", "Send an access token: Authorization: Bearer <token>."),
    ),
    403: (
        "Your role does not allow this",
        ("forbidden", "Forbidden", "Your role (agent) does not allow campaigns:write."),
    ),
    404: (
        "No such resource in your organisation",
        ("not-found", "Not found", "No campaign 01919bcc-c2d3-7e4f-8a5b-6c7d8e9f0a1b in your organisation."),
    ),
    409: (
        "The resource's state does not allow this (a state-machine transition, a duplicate)",
        ("conflict", "Conflict", "The request conflicts with the resource's current state."),
    ),
    413: (
        "The request body (or its list of items) is larger than this operation accepts",
        ("payload-too-large", "Payload too large", "The request body exceeds 10485760 bytes."),
    ),
    422: (
        "Semantically invalid: `tenant_id` in the body (the tenant always comes from the token), or a referenced "
        "resource that is not your organisation's",
        (
            "tenant-id-not-allowed",
            "tenant_id is not accepted in the body",
            "The tenant is never taken from the request body; remove tenant_id.",
        ),
    ),
    429: (
        "Your organisation exceeded its requests per minute; retry after `Retry-After` seconds",
        ("rate-limited", "Too many requests", "Your organisation exceeded 2000 requests per minute; retry after 12 s."),
    ),
}

_INTEGER_HEADER = {"schema": {"type": "integer", "minimum": 0}}
_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {"description": "Requests allowed per minute", **_INTEGER_HEADER},
    "RateLimit-Remaining": {"description": "Requests left in this window", **_INTEGER_HEADER},
    "RateLimit-Reset": {"description": "Seconds until the window resets", **_INTEGER_HEADER},
    "Retry-After": {"description": "Seconds to wait before retrying", **_INTEGER_HEADER},
}
_CHALLENGE_HEADER = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}


def _problem_content(status: int, example: tuple[str, str, str] | None = None) -> dict[str, Any]:
    slug, title, detail = example or _STANDARD.get(status, ("", ("http-error", "HTTP error", "")))[1]
    return {
        PROBLEM_MEDIA_TYPE: {
            "schema": {"$ref": PROBLEM_REF},
            "example": {
                "type": problem_type(slug),
                "title": title,
                "status": status,
                "detail": detail,
                "instance": _INSTANCE,
            },
        }
    }


def problems(*statuses: int, descriptions: Mapping[int, str] | None = None) -> Responses:
    """The `responses=` of a route for the problems its service raises beyond those `install_openapi` derives
    (a 409 on a state transition, a 404 for an id in the body, a 413 for too many items)."""
    described = dict(descriptions or {})
    return {
        status: {
            "description": described.get(status) or _STANDARD.get(status, ("Problem", ("", "", "")))[0],
            "content": _problem_content(status),
        }
        for status in statuses
    }


def links(status: int, **targets: Mapping[str, str]) -> Responses:
    """OpenAPI links from this operation's `status` response to the operations named (by operation id, the
    route function's name), each with its parameters as runtime expressions (`$response.body#/id`)."""
    return {
        status: {
            "links": {
                name: {"operationId": name, "parameters": dict(parameters)} for name, parameters in targets.items()
            }
        }
    }


def omit_or_set(*fields: str) -> Callable[[dict[str, Any]], None]:
    """`json_schema_extra` of a PATCH body whose `fields` may be left out but not sent as null (its validators
    refuse null; the Python type is optional only to tell "not sent" apart)."""

    def strip_null(schema: dict[str, Any]) -> None:
        for name in fields:
            prop = schema.get("properties", {}).get(name)
            if not prop or "anyOf" not in prop:
                continue
            kept = [branch for branch in prop.pop("anyOf") if branch.get("type") != "null"]
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
            prop.pop("default", None)

    return strip_null


def operation_id(route: APIRoute) -> str:
    """Operation ids are the route functions' names (`get_campaign`): the code nouns, stable and unique."""
    return route.name


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def required_permissions(route: APIRoute) -> list[Permission]:
    """The permissions the route's permission checks (`require`, `scoped`, `reading`) ask for."""
    found: list[Permission] = []
    for call in _calls(route.dependant):
        permission = deps.permission_of(call)
        if permission is not None and permission not in found:
            found.append(permission)
    return found


def _derived(route: APIRoute) -> dict[int, str | None]:
    """The problem statuses a route's shape implies, each with a description when it differs from the standard."""
    dependant = route.dependant
    statuses: dict[int, str | None] = {}
    flat = list(_calls(dependant))
    has_params = bool(dependant.path_params or dependant.query_params or dependant.body_params)
    has_params = has_params or any(sub.path_params or sub.query_params or sub.header_params for sub in _walk(dependant))
    if has_params:
        statuses[400] = None
    if any(deps.admits(call) for call in flat):
        statuses[401] = None
        permissions = required_permissions(route)
        if permissions:
            statuses[403] = "Your role does not allow this: " + "; ".join(
                f"needs `{p.value}` ({', '.join(r.value for r, held in ROLE_PERMISSIONS.items() if p in held)})"
                for p in permissions
            )
        statuses[429] = None
    if any(_path_params(route)):
        statuses[404] = None
    if dependant.body_params:
        statuses[413] = None
        statuses[422] = None
    return statuses


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _path_params(route: APIRoute) -> list[str]:
    names = [p.name for p in route.dependant.path_params]
    for sub in _walk(route.dependant):
        names.extend(p.name for p in sub.path_params)
    return names


def _is_default_422(response: Mapping[str, Any]) -> bool:
    content = response.get("content", {}).get("application/json", {})
    return bool(content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"))


def _complete_operation(operation: dict[str, Any], route: APIRoute) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses and _is_default_422(responses["422"]):
        del responses["422"]
    for status, description in _derived(route).items():
        entry = responses.setdefault(str(status), {})
        if description and not entry.get("description"):
            entry["description"] = description
        entry.setdefault("description", _STANDARD[status][0])
    for key, entry in responses.items():
        if not key.isdigit() or not 400 <= int(key) < 500:
            continue
        status = int(key)
        content = entry.setdefault("content", {})
        content.pop("application/json", None)
        problem = content.setdefault(PROBLEM_MEDIA_TYPE, {})
        problem["schema"] = {"$ref": PROBLEM_REF}
        problem.setdefault("example", _problem_content(status)[PROBLEM_MEDIA_TYPE]["example"])
        if status == 429:
            entry.setdefault("headers", {}).update(_RATE_LIMIT_HEADERS)
        if status == 401:
            entry.setdefault("headers", {}).update(_CHALLENGE_HEADER)
    operation["responses"] = dict(sorted(responses.items()))


# PostgreSQL's text refuses NUL, so `StrictModel` (every request body) and the `Text` parameters refuse it too, and
# nothing stored holds one: the document says so on every free-form string.
_NO_NUL = "^[^\\u0000]*$"


# Unicode White_Space: what pydantic's `str_strip_whitespace` removes (Rust's `trim`).
_WHITE_SPACE = "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# Python's `\\s` (pydantic's patterns run on Python's `re`): White_Space plus the separators U+001C-U+001F.
# ECMA-262's `\\s`, which the document's readers apply, differs (no U+0085, no U+001C-U+001F), so the document
# spells the class out.
_PY_SPACE = _WHITE_SPACE + "\\u001c-\\u001f"
# A string whose minimum length counts only after surrounding whitespace is stripped: something else must be in it.
_NOT_BLANK = f"[^{_WHITE_SPACE}]"


def _explicit_space(pattern: str) -> str:
    out: list[str] = []
    in_class = escaped = False
    for char in pattern:
        if escaped:
            escaped = False
            if char == "s":
                out[-1] = _PY_SPACE if in_class else f"[{_PY_SPACE}]"
                continue
            out.append(char)
            continue
        if char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        out.append(char)
    return "".join(out)


# Formats whose shape already rules NUL out.
_SHAPED = frozenset({"uuid", "date-time", "date", "time", "duration", "uri"})


def _forbid_nul(node: object) -> None:
    if isinstance(node, dict):
        names = node.get("propertyNames")
        if isinstance(names, dict):
            # Property names are strings (JSON's object keys), stripped and checked like any other.
            names.setdefault("type", "string")
        if node.get("type") == "string" and isinstance(node.get("pattern"), str):
            node["pattern"] = _explicit_space(node["pattern"])
        if node.get("type") == "string" and node.get("minLength", 0) >= 1 and "pattern" not in node:
            node.setdefault("allOf", []).append({"pattern": _NOT_BLANK})
        if node.get("type") == "string" and not {"enum", "const"} & node.keys() and node.get("format") not in _SHAPED:
            if "pattern" not in node:
                node["pattern"] = _NO_NUL
            elif node["pattern"] != _NO_NUL and {"pattern": _NO_NUL} not in node.get("allOf", []):
                # A field's own pattern may admit NUL (`[^@\\s]+`): the rule holds beside it.
                node.setdefault("allOf", []).append({"pattern": _NO_NUL})
        for value in node.values():
            _forbid_nul(value)
    elif isinstance(node, list):
        for item in node:
            _forbid_nul(item)


def _decimal_as_number(node: object) -> None:
    """Pydantic writes a `Decimal` as `number` or any `string`; the bounds hold only on the number, and a string
    is a leniency, not a contract. The document keeps the number."""
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list) and len(branches) == 2 and {"type": "string"} in branches:
            numbers = [b for b in branches if b.get("type") == "number"]
            if numbers:
                node.pop("anyOf")
                node.update(numbers[0])
                if isinstance(node.get("default"), str):
                    node["default"] = float(node["default"])
        for value in node.values():
            _decimal_as_number(value)
    elif isinstance(node, list):
        for item in node:
            _decimal_as_number(item)


def complete_document(document: dict[str, Any], routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """Post-process FastAPI's document in place (see the module docstring) and return it."""
    for context in iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        item = document.get("paths", {}).get(context.path_format or route.path_format, {})
        for method in context.methods or route.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                _complete_operation(operation, route)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schemas = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schemas.pop("$defs", {}))
    schemas["Problem"] = problem_schemas
    # FastAPI's 422 schemas, now referred to by nothing (checked: a model of ours could share the name).
    for name in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    _decimal_as_number(document)
    _forbid_nul(document.get("paths", {}))
    _forbid_nul(schemas)
    return document


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and so GET /openapi.json and /docs) serve the completed document."""
    generate = app.openapi
    completed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        # FastAPI caches the document and makes a new one only when the routes change; complete each once.
        document = generate()
        if not completed or completed[0] is not document:
            completed[:] = [complete_document(document, app.routes)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
