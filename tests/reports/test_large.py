"""The 10,000-row line: at 10,000 rows a report is inline; past it, the file is written row by row, stored, and
signed for 30 minutes."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from engage.core.clock import ManualClock
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant

from ..problems import assert_problem
from .conftest import _call, add_calls

INLINE_LIMIT = 10_000


async def _campaign_with_calls(runtime: Runtime, factory: Any, tenant: Tenant, count: int) -> Any:
    campaign = await factory.campaign(tenant, name="Bulk")
    minutes = [f"2026-06-0{1 + i // 5000}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z" for i in range(count)]
    await add_calls(runtime, tenant, [_call(tenant, campaign, started, status="no_answer") for started in minutes])
    return campaign


async def test_at_the_limit_a_report_is_inline_and_one_row_more_is_a_download(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    factory: Any,
    runtime: Runtime,
    tenant: Tenant,
    clock: ManualClock,
) -> None:
    campaign = await _campaign_with_calls(runtime, factory, tenant, INLINE_LIMIT)
    body = {"report_type": "call_detail", "format": "csv", "from": "2026-06-01T00:00:00Z", "to": "2026-06-11T00:00:00Z"}
    body["campaign_id"] = str(campaign)

    inline = await client.post("/v1/reports/export", headers=headers, json=body)
    assert inline.status_code == 200, inline.text
    assert inline.json()["rows"] == INLINE_LIMIT
    assert "data" in inline.json()
    assert "download_url" not in inline.json()

    await add_calls(runtime, tenant, [_call(tenant, campaign, "2026-06-10T23:00:00Z", status="busy")])
    large = await client.post("/v1/reports/export", headers=headers, json=body)

    assert large.status_code == 200, large.text
    payload = large.json()
    assert list(payload) == ["report_type", "format", "rows", "download_url", "expires_at"]
    assert payload["rows"] == INLINE_LIMIT + 1
    assert payload["expires_at"] == "2026-06-12T10:30:00Z"
    query = dict(parse_qsl(urlsplit(payload["download_url"]).query))
    assert query["filename"] == "call_detail_2026-06-12.csv"
    downloaded = await client.get(payload["download_url"])
    assert downloaded.status_code == 200
    assert 'filename="call_detail_2026-06-12.csv"' in downloaded.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(downloaded.content.decode())))
    assert len(table) == INLINE_LIMIT + 2, "the header and every row"
    assert table[-1][7] == "busy"

    clock.advance(31 * 60)
    assert_problem(await client.get(payload["download_url"]), 403, "file-url-expired")


async def test_a_large_json_report_downloads_as_one_array(
    client: httpx.AsyncClient, headers: dict[str, str], factory: Any, runtime: Runtime, tenant: Tenant
) -> None:
    campaign = await _campaign_with_calls(runtime, factory, tenant, INLINE_LIMIT + 5)
    body = {
        "report_type": "call_detail",
        "format": "json",
        "from": "2026-06-01T00:00:00Z",
        "to": "2026-06-11T00:00:00Z",
        "campaign_id": str(campaign),
    }

    response = await client.post("/v1/reports/export", headers=headers, json=body)

    downloaded = await client.get(response.json()["download_url"])
    rows = json.loads(downloaded.content)
    assert len(rows) == INLINE_LIMIT + 5
    assert rows[0]["started_at"] == "2026-06-01T00:00:00Z"
    assert downloaded.headers["content-type"] == "application/json"
