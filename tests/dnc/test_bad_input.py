"""Bad input on POST /v1/dnc: a 400 problem naming the field (a 422 for a body carrying `tenant_id`), and
nothing stored, no event written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engage.tenancy.models import Tenant

from ..problems import assert_problem, error_fields
from .conftest import Db

BAD_BODIES = [
    pytest.param({}, "phones", id="missing-phones"),
    pytest.param({"reason": "Asked"}, "phones", id="reason-without-phones"),
    pytest.param({"phones": "+971509876543"}, "phones", id="phones-not-a-list"),
    pytest.param({"phones": {"0": "+971509876543"}}, "phones", id="phones-an-object"),
    pytest.param({"phones": None}, "phones", id="phones-null"),
    pytest.param({"phones": []}, "phones", id="phones-empty"),
    pytest.param({"phones": ["+971509876543", 971501234567]}, "phones.1", id="a-phone-not-a-string"),
    pytest.param({"phones": ["+971509876543"], "reason": 42}, "reason", id="reason-not-a-string"),
    pytest.param({"phones": ["+971509876543"], "reason": "   "}, "reason", id="blank-reason"),
    pytest.param({"phones": ["+971509876543"], "reason": "x" * 501}, "reason", id="overlong-reason"),
    pytest.param({"phones": ["+971509876543"], "source": "import"}, "source", id="source-is-not-settable"),
    pytest.param({"phones": ["+971509876543"], "colour": "red"}, "colour", id="extra-field"),
]

MALFORMED_BODIES = [
    pytest.param(b'{"phones": [', id="truncated-json"),
    pytest.param(b"not json at all", id="not-json"),
    pytest.param(b'["+971509876543"]', id="array"),
    pytest.param(b"null", id="null"),
]

JSON = {"Content-Type": "application/json"}


class TestAddInput:
    @pytest.mark.parametrize(("body", "field"), BAD_BODIES)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_is_stored(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post("/v1/dnc", headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert field in error_fields(problem)
        assert await db.count_entries(tenant.id) == 0
        assert await db.events(tenant.id) == []

    @pytest.mark.parametrize("content", MALFORMED_BODIES)
    async def test_malformed_or_non_object_json_is_400_and_nothing_is_stored(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, content: bytes
    ) -> None:
        response = await client.post("/v1/dnc", headers=headers | JSON, content=content)

        assert_problem(response, 400, "malformed-json")
        assert await db.count_entries(tenant.id) == 0

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_stored_in_either_tenant(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        db: Db,
    ) -> None:
        response = await client.post(
            "/v1/dnc", headers=headers, json={"phones": ["+971509876543"], "tenant_id": str(other_tenant.id)}
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.count_entries(tenant.id) == 0
        assert await db.count_entries(other_tenant.id) == 0
        assert await db.events(tenant.id) == []
        assert await db.events(other_tenant.id) == []
