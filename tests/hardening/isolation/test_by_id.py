"""Every /v1 route with an id, called on a resource of tenant A by tenant B's admin, supervisor and agent: the
answer is the 404 problem a non-existent id gets, word for word (no existence oracle), and not one row of A
changes. Where B's role lacks the route's permission the answer is the 403 problem, and it too must be the one a
non-existent id gets: the refusal then says nothing about A.

The routes come from the app; a route whose path parameter has no seeding function (`routes.KINDS`) or whose body
has no example (`routes.ID_BODIES`) fails here, naming the table to extend."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from engage.config import Settings
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.main import create_app

from ...problems import PROBLEM_BASE, without_instance
from .routes import ID_BODIES, KINDS, Operation, collection_app, operations
from .world import TenantData, changes, snapshot

WITH_ID = [operation for operation in operations(collection_app()) if operation.parameters]


def test_the_matrix_covers_the_apps_routes(settings: Settings, runtime: Runtime) -> None:
    """The routes parametrised at collection time are those of the app the tests call."""
    served = {(o.method, o.path) for o in operations(create_app(settings, runtime=runtime)) if o.parameters}

    assert served == {(o.method, o.path) for o in WITH_ID}
    assert len(served) >= 30  # every family with an id is there (calls, campaigns, webhooks, recordings, ...)


def _body(operation: Operation, b: TenantData) -> dict[str, Any] | None:
    if not operation.takes_body:
        return None
    key = (operation.method, operation.path)
    if key not in ID_BODIES:
        pytest.fail(f"{operation} takes a body: add a valid one to ID_BODIES in tests/hardening/isolation/routes.py")
    return {
        name: [str(b.staff.agent.id) if item == "<b.agent>" else item for item in value]
        if isinstance(value, list)
        else value
        for name, value in ID_BODIES[key].items()
    }


async def _targets(operation: Operation, a: TenantData, b: TenantData) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Pairs of path values: one naming A's resources, and the same with the last id naming nothing. A route with
    two ids is also called with B's own parent and A's child (B's webhook, A's delivery)."""
    unmapped = [name for name in operation.parameters if name not in KINDS]
    if unmapped:
        pytest.fail(
            f"{operation}: no seeding function for path parameter(s) {unmapped}. Add each to KINDS in "
            "tests/hardening/isolation/routes.py (and its accessor to TenantData in world.py), so tenant isolation "
            "is checked on this route."
        )

    async def value(owner: TenantData, name: str) -> str:
        return str(await getattr(owner, KINDS[name].seed)())

    *parents, last = operation.parameters
    theirs = {name: await value(a, name) for name in operation.parameters}
    pairs = [(theirs, {**{name: KINDS[name].missing() for name in parents}, last: KINDS[last].missing()})]
    if parents:
        ours = {name: await value(b, name) for name in parents}
        pairs.append(({**ours, last: theirs[last]}, {**ours, last: KINDS[last].missing()}))
    return pairs


def _comparable(response: httpx.Response, values: dict[str, str]) -> dict[str, Any]:
    """The problem body without its `instance`, with the ids the request named written as `<id>`."""
    body = without_instance(response.json())
    detail = str(body.get("detail", ""))
    for text in values.values():
        detail = detail.replace(text, "<id>")
    return body | {"detail": detail}


@pytest.mark.parametrize("operation", WITH_ID, ids=str)
async def test_another_tenants_resource_is_not_found_for_every_role_and_stays_unchanged(
    operation: Operation, client: httpx.AsyncClient, owner: asyncpg.Connection, a: TenantData, b: TenantData
) -> None:
    targets = await _targets(operation, a, b)
    body = _body(operation, b)
    before = await snapshot(owner, a.tenant_id)

    for role in Role:
        allowed = operation.allows(role)
        expected = 404 if allowed else 403
        for theirs, missing in targets:
            seen = await client.request(
                operation.method, operation.url(theirs), json=body, headers=b.staff.headers(role)
            )
            absent = await client.request(
                operation.method, operation.url(missing), json=body, headers=b.staff.headers(role)
            )

            what = f"{role.value} of tenant B: {operation.method} {operation.url(theirs)}"
            assert seen.status_code == expected, f"{what} answered {seen.status_code}: {seen.text}"
            assert seen.headers["content-type"] == "application/problem+json", what
            problem = seen.json()
            assert problem["status"] == expected, what
            assert problem["type"].startswith(PROBLEM_BASE), what
            if not allowed:
                assert problem["type"] == PROBLEM_BASE + "forbidden", what
            assert _comparable(seen, theirs) == _comparable(absent, missing), f"{what}: differs from a missing id"

    assert changes(before, await snapshot(owner, a.tenant_id)) == {}, f"{operation} changed tenant A's rows"
    # A still reads its own resource: the ids were real, so the 404s above were isolation, not typos.
    for theirs, _ in targets[:1]:
        if operation.method == "GET":
            own = await client.get(operation.url(theirs), headers=a.staff.headers(Role.admin))
            assert own.status_code != 404, f"tenant A cannot read its own {operation.url(theirs)}: {own.text}"
