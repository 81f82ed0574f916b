"""Bad input on the campaign write endpoints: a 400 problem naming the field (a 422 for a body carrying
`tenant_id`), and nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from engage.tenancy.models import Tenant

from ..problems import assert_problem, error_fields
from .conftest import Builder, Db

BASE: dict[str, Any] = {"name": "Q3 Insurance Renewal", "dialing_mode": "progressive"}


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != field}


# Fields valid on both create and patch, with a bad value each.
BAD_SETTINGS = [
    pytest.param({"name": "   "}, "name", id="blank-name"),
    pytest.param({"name": "x" * 201}, "name", id="overlong-name"),
    pytest.param({"dialing_mode": "auto"}, "dialing_mode", id="unknown-mode"),
    pytest.param({"max_attempts": 0}, "max_attempts", id="max-attempts-0"),
    pytest.param({"max_attempts": 21}, "max_attempts", id="max-attempts-21"),
    pytest.param({"max_attempts": 2.5}, "max_attempts", id="max-attempts-fraction"),
    pytest.param({"retry_delay_minutes": 0}, "retry_delay_minutes", id="retry-delay-0"),
    pytest.param({"retry_delay_minutes": -5}, "retry_delay_minutes", id="retry-delay-negative"),
    pytest.param({"retry_delay_minutes": 2**31}, "retry_delay_minutes", id="retry-delay-huge"),
    pytest.param({"dial_ratio": 0.9}, "dial_ratio", id="dial-ratio-below-1"),
    pytest.param({"dial_ratio": 5.01}, "dial_ratio", id="dial-ratio-above-5"),
    pytest.param({"dial_ratio": 1.555}, "dial_ratio", id="dial-ratio-three-decimals"),
    pytest.param({"dial_ratio": "fast"}, "dial_ratio", id="dial-ratio-not-a-number"),
    pytest.param({"timezone": "Mars/Olympus"}, "timezone", id="unknown-timezone"),
    pytest.param({"timezone": "+04:00"}, "timezone", id="offset-not-a-zone"),
    pytest.param({"timezone": "localtime"}, "timezone", id="localtime-not-a-zone"),
    pytest.param({"wrap_up_seconds": 0}, "wrap_up_seconds", id="wrap-up-0"),
    pytest.param({"wrap_up_seconds": -1}, "wrap_up_seconds", id="wrap-up-negative"),
    pytest.param({"abandon_rate_target": 0}, "abandon_rate_target", id="abandon-target-0"),
    pytest.param({"abandon_rate_target": 101}, "abandon_rate_target", id="abandon-target-above-100"),
    pytest.param({"calling_window": {"start": "9:00", "end": "18:00"}}, "calling_window.start", id="window-format"),
    pytest.param({"calling_window": {"start": "09:00", "end": "24:00"}}, "calling_window.end", id="window-24h"),
    pytest.param({"calling_window": {"start": "18:00", "end": "09:00"}}, "calling_window", id="window-reversed"),
    pytest.param({"calling_window": {"start": "09:00"}}, "calling_window.end", id="window-without-end"),
    pytest.param({"calling_window": "09:00-18:00"}, "calling_window", id="window-not-an-object"),
    pytest.param({"cli_group_id": "not-a-uuid"}, "cli_group_id", id="cli-group-not-a-uuid"),
    pytest.param({"status": "active"}, "status", id="status-not-settable"),
    pytest.param({"colour": "red"}, "colour", id="extra-field"),
]

MISSING_ON_CREATE = [
    pytest.param("name", id="missing-name"),
    pytest.param("dialing_mode", id="missing-mode"),
    pytest.param("cli_group_id", id="missing-cli-group"),
]

NOT_NULLABLE = ["name", "dialing_mode", "cli_group_id", "max_attempts", "dial_ratio", "timezone", "wrap_up_seconds"]

JSON = {"Content-Type": "application/json"}


class TestCreateCampaignInput:
    @pytest.mark.parametrize(("change", "field"), BAD_SETTINGS)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
        change: dict[str, Any],
        field: str,
    ) -> None:
        body = BASE | {"cli_group_id": str(await build.cli_group(tenant))} | change

        response = await client.post("/v1/campaigns", headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert field in error_fields(problem)
        assert await db.count_campaigns(tenant.id) == 0

    @pytest.mark.parametrize("field", MISSING_ON_CREATE)
    async def test_a_missing_required_field_is_400_naming_it(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder, db: Db, field: str
    ) -> None:
        body = BASE | {"cli_group_id": str(await build.cli_group(tenant))}

        response = await client.post("/v1/campaigns", headers=headers, json=without(body, field))

        assert error_fields(assert_problem(response, 400, "validation-error")) == {field}
        assert await db.count_campaigns(tenant.id) == 0

    @pytest.mark.parametrize("content", [b'{"name": ', b"[]", b"42"])
    async def test_malformed_json_is_400_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, content: bytes
    ) -> None:
        response = await client.post("/v1/campaigns", headers=headers | JSON, content=content)

        assert_problem(response, 400, "malformed-json")
        assert await db.count_campaigns(tenant.id) == 0

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
    ) -> None:
        body = BASE | {"cli_group_id": str(await build.cli_group(tenant)), "tenant_id": str(other_tenant.id)}

        response = await client.post("/v1/campaigns", headers=headers, json=body)

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.count_campaigns(tenant.id) == 0
        assert await db.count_campaigns(other_tenant.id) == 0


class TestUpdateCampaignInput:
    @pytest.mark.parametrize(("change", "field"), BAD_SETTINGS)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
        change: dict[str, Any],
        field: str,
    ) -> None:
        campaign = await build.campaign(tenant)

        response = await client.patch(f"/v1/campaigns/{campaign}", headers=headers, json={"max_attempts": 5} | change)

        assert field in error_fields(assert_problem(response, 400, "validation-error"))
        stored = await db.campaign(tenant.id, campaign)
        assert stored is not None
        assert stored.max_attempts == 3

    @pytest.mark.parametrize("field", NOT_NULLABLE)
    async def test_null_for_a_setting_that_cannot_be_cleared_is_400_naming_it(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder, field: str
    ) -> None:
        campaign = await build.campaign(tenant)

        response = await client.patch(f"/v1/campaigns/{campaign}", headers=headers, json={field: None})

        assert error_fields(assert_problem(response, 400, "validation-error")) == {field}

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
    ) -> None:
        campaign = await build.campaign(tenant)

        response = await client.patch(
            f"/v1/campaigns/{campaign}", headers=headers, json={"name": "Moved", "tenant_id": str(other_tenant.id)}
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        stored = await db.campaign(tenant.id, campaign)
        assert stored is not None
        assert stored.name == "Q3 Insurance Renewal"

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/campaigns/not-a-uuid"),
            ("PATCH", "/v1/campaigns/not-a-uuid"),
            ("POST", "/v1/campaigns/not-a-uuid/start"),
            ("POST", "/v1/campaigns/not-a-uuid/pause"),
            ("POST", "/v1/campaigns/not-a-uuid/complete"),
            ("GET", "/v1/campaigns/not-a-uuid/agents"),
            ("POST", "/v1/campaigns/not-a-uuid/agents"),
        ],
    )
    async def test_a_non_uuid_campaign_id_is_400_naming_campaign_id(
        self, client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str
    ) -> None:
        body = {"agent_ids": [str(uuid.uuid4())]} if path.endswith("agents") and method == "POST" else None

        response = await client.request(method, path, headers=headers, json=body if method != "GET" else None)

        assert "campaign_id" in error_fields(assert_problem(response, 400, "validation-error"))
