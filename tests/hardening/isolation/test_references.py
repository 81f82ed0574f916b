"""Every operation of tenant B that changes something without an id in its path (create a campaign, a user, a CLI
group; add to the DNC list; record a consent; originate; check compliance; preview dial), sent by each of B's roles
with a body naming tenant A's things (A's CLI group, team, agent, campaign, contact, numbers): not one row of A
changes, nothing of A comes back, and the answer is the one the same body gets when the things it names do not exist
(a 2xx where B may use the number for itself, the same problem otherwise). Adding A's number to B's DNC list, for
one, must not mark A's contacts.

An operation missing from `routes.WRITES` (or `READS`) fails tests/hardening/isolation/test_collections.py."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest

from engage.core.principal import Role

from .routes import WRITES, missing_value, placeholders, resolve
from .world import TenantData, changes, snapshot

# What differs between two answers whatever they name: a created thing's id, an audit number, a token, a secret, a
# fresh email or name, a problem's `instance`.
_VOLATILE = {"id", "audit_ref", "token", "secret", "email", "name", "instance"}


def _answer(response: httpx.Response, values: dict[str, str]) -> tuple[int, Any]:
    """The status and body, the values the request named written as `<ref>`, without the `_VOLATILE` members."""
    text = response.text
    for value in values.values():
        text = text.replace(value, "<ref>")
    body = json.loads(text)
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key not in _VOLATILE}
    return response.status_code, body


@pytest.mark.parametrize("role", list(Role))
async def test_a_change_of_tenant_b_naming_tenant_as_things_leaves_tenant_a_as_it_was(
    client: httpx.AsyncClient, owner: asyncpg.Connection, a: TenantData, b: TenantData, role: Role
) -> None:
    theirs = {f"a.{name}": value for name, value in (await a.references()).items()}
    await b.agent_id()  # B's agent is logged in, so a call it would place is refused for A's things, not its state
    own = {"b.agent_id": str(b.staff.agent.id)}
    before = await snapshot(owner, a.tenant_id)

    found: list[str] = []
    for (method, path), bodies in WRITES.items():
        for template in bodies:
            nothing = {name: missing_value(name.removeprefix("a.")) for name in theirs}
            named = resolve(template, theirs | own)
            response = await client.request(method, path, json=named, headers=b.staff.headers(role))
            absent = await client.request(
                method, path, json=resolve(template, nothing | own), headers=b.staff.headers(role)
            )
            what = f"{role.value} of B: {method} {path} {named}"
            assert response.status_code < 500, f"{what}: {response.text}"
            sent = [theirs[name] for name in placeholders(template)]
            if leaked := [marker for marker in a.leaks(response.text) if not any(marker in value for value in sent)]:
                found.append(f"{what} shows tenant A's {leaked}")
            if _answer(response, theirs) != _answer(absent, nothing):
                found.append(f"{what} answers unlike a body naming nothing: {response.text} vs {absent.text}")

    assert found == []
    assert changes(before, await snapshot(owner, a.tenant_id)) == {}
