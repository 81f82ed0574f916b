"""POST /v1/campaigns/{id}/contacts with one row PostgreSQL cannot store: the whole upload is a 400 naming the row
and the field, and no contact is written; a phone that is merely not a number is still counted, not refused."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from engage.campaigns.models import Campaign
from engage.tenancy.models import Tenant

from ..problems import assert_problem
from .conftest import Db


def url(campaign: Campaign) -> str:
    return f"/v1/campaigns/{campaign.id}/contacts"


def upload(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"contacts": rows}


def good_rows(count: int) -> list[dict[str, Any]]:
    return [{"phone": f"+97150{n:07d}", "first_name": "Sara"} for n in range(count)]


class TestUnstorableRow:
    @pytest.mark.parametrize(
        ("row", "field", "message"),
        [
            pytest.param(
                {"first_name": "Ah\x00mad"},
                "contacts.3.first_name",
                "text must not contain NUL (\\u0000) characters",
                id="nul-in-first-name",
            ),
            pytest.param(
                {"last_name": "Al\x00Rashid"},
                "contacts.3.last_name",
                "text must not contain NUL (\\u0000) characters",
                id="nul-in-last-name",
            ),
            pytest.param(
                {"custom_fields": {"account": "ACC\x00421"}},
                "contacts.3.custom_fields.account",
                "text must not contain NUL (\\u0000) characters",
                id="nul-in-a-custom-field-value",
            ),
            pytest.param(
                {"custom_fields": {"acc\x00ount": "ACC-421"}},
                "contacts.3.custom_fields.acc\\u0000ount",
                "key must not contain NUL (\\u0000) characters",
                id="nul-in-a-custom-field-key",
            ),
            pytest.param(
                {"custom_fields": {"renewal": float("nan")}},
                "contacts.3.custom_fields.renewal",
                "number must be finite (not NaN or Infinity)",
                id="nan-custom-field",
            ),
            pytest.param(
                {"custom_fields": {"balance": float("inf")}},
                "contacts.3.custom_fields.balance",
                "number must be finite (not NaN or Infinity)",
                id="infinite-custom-field",
            ),
            pytest.param(
                {"custom_fields": {"balance": 2**63}},
                "contacts.3.custom_fields.balance",
                "number must be between -9223372036854775808 and 9223372036854775807",
                id="custom-field-beyond-bigint",
            ),
        ],
    )
    async def test_one_unstorable_value_refuses_the_whole_upload_naming_row_and_field(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        campaign: Campaign,
        tenant: Tenant,
        db: Db,
        row: dict[str, Any],
        field: str,
        message: str,
    ) -> None:
        rows = good_rows(6)
        rows[3].update(row)

        # Python's encoder writes NaN and Infinity as the bare words its decoder (and so the API) accepts.
        response = await client.post(
            url(campaign), headers={**headers, "content-type": "application/json"}, content=json.dumps(upload(rows))
        )

        body = assert_problem(response, 400, "validation-error")
        assert body["errors"] == [{"field": field, "message": message}]
        assert body["detail"] == f"{field}: {message}"
        assert await db.count(tenant, campaign.id) == 0

    async def test_an_unpaired_surrogate_refuses_the_upload_naming_row_and_field(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        rows = good_rows(3)
        rows[1]["first_name"] = "Sa\ud800ra"

        # json.dumps escapes it as `\ud800`, the form a client's JSON carries it in.
        response = await client.post(
            url(campaign), headers={**headers, "content-type": "application/json"}, content=json.dumps(upload(rows))
        )

        body = assert_problem(response, 400, "validation-error")
        assert body["errors"] == [
            {"field": "contacts.1.first_name", "message": "text must not contain unpaired surrogates (\\ud800-\\udfff)"}
        ]
        assert await db.count(tenant, campaign.id) == 0

    async def test_every_unstorable_row_is_named_not_only_the_first(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        rows = good_rows(2_500)
        rows[7]["first_name"] = "A\x00"
        rows[2_401]["last_name"] = "B\x00"

        response = await client.post(url(campaign), headers=headers, json=upload(rows))

        body = assert_problem(response, 400, "validation-error")
        assert [error["field"] for error in body["errors"]] == ["contacts.7.first_name", "contacts.2401.last_name"]
        assert await db.count(tenant, campaign.id) == 0

    async def test_a_nul_in_a_phone_is_refused_not_counted_as_an_invalid_phone(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        rows = good_rows(2)
        rows[1]["phone"] = "+97150\x001234567"

        response = await client.post(url(campaign), headers=headers, json=upload(rows))

        body = assert_problem(response, 400, "validation-error")
        assert body["errors"] == [
            {"field": "contacts.1.phone", "message": "text must not contain NUL (\\u0000) characters"}
        ]
        assert await db.count(tenant, campaign.id) == 0

    async def test_a_phone_that_is_not_a_number_is_still_counted_and_the_rest_imported(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        rows = good_rows(3)
        rows[1]["phone"] = "not a phone"

        response = await client.post(url(campaign), headers=headers, json=upload(rows))

        assert response.status_code == 201, response.text
        assert response.json()["imported"] == 2
        assert response.json()["invalid_phones"] == 1
        assert await db.count(tenant, campaign.id) == 2

    async def test_storable_text_numbers_and_unicode_beyond_the_bmp_are_kept_as_sent(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign, tenant: Tenant, db: Db
    ) -> None:
        fields = {"note": "أحمد 😀\ttab", "big": 2**63 - 1, "small": -(2**63), "ratio": 0.25}
        rows = [{"phone": "+971501234567", "first_name": "أحمد 😀", "custom_fields": fields}]

        response = await client.post(url(campaign), headers=headers, json=upload(rows))

        assert response.status_code == 201, response.text
        [stored] = await db.contacts(tenant, campaign.id)
        assert stored.first_name == "أحمد 😀"
        assert stored.custom_fields == fields
