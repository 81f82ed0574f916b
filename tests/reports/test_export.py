"""POST /v1/reports/export on the fixed data set of conftest.py: each report type's figures, computed by hand,
in JSON, CSV and PDF; filters; roles; tenant isolation; bad input."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import httpx
from pypdf import PdfReader

from engage.core.principal import Role
from engage.reports.tables import COLUMNS, Kind
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import RANGE, Floor


async def export(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/v1/reports/export", headers=headers, json=RANGE | body)


async def rows_of(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> list[dict[str, Any]]:
    response = await export(client, headers, format="json", **body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert list(payload) == ["report_type", "format", "rows", "data"]
    assert payload["rows"] == len(payload["data"])
    data: list[dict[str, Any]] = payload["data"]
    return data


async def test_campaign_summary_figures(client: httpx.AsyncClient, headers: dict[str, str], floor: Floor) -> None:
    rows = {row["campaign_name"]: row for row in await rows_of(client, headers, report_type="campaign_summary")}

    # Renewals: 4 calls in range (the May one is not); c1 and c2 reached an agent; c1, c2 and c4 were answered by a
    # person and c4 was abandoned (1 of 3); talk (120 + 60) / 2; calls in the 08:00 and 09:00 hours: 4 / 2.
    assert rows["Renewals"] == {
        "campaign_id": str(floor.renewals),
        "campaign_name": "Renewals",
        "dialled": 4,
        "connected": 2,
        "abandon_rate": 33.3,
        "contacts_completed": 1,
        "contacts_failed": 1,
        "contacts_remaining": 1,
        "avg_talk_time_seconds": 90,
        "calls_per_hour": 2.0,
    }
    # Summer: 3 calls in the 10:00 hour, 2 connected, none abandoned; talk (300 + 100) / 2.
    assert rows["حملة الصيف"] == {
        "campaign_id": str(floor.summer),
        "campaign_name": "حملة الصيف",
        "dialled": 3,
        "connected": 2,
        "abandon_rate": 0.0,
        "contacts_completed": 2,
        "contacts_failed": 0,
        "contacts_remaining": 0,
        "avg_talk_time_seconds": 200,
        "calls_per_hour": 3.0,
    }
    assert len(rows) == 2


async def test_agent_performance_figures_include_time_in_each_state(
    client: httpx.AsyncClient, headers: dict[str, str], floor: Floor
) -> None:
    rows = {row["agent_name"]: row for row in await rows_of(client, headers, report_type="agent_performance")}

    # Layla: 2 calls, both connected, 180 s of talk, 1 of 2 dispositioned; states: available 10 + 17 min, on call
    # 2 + 1 min, wrap-up 1 + 1 min, break 30 min; handle time (180 + 120) / 2.
    assert rows["ليلى أحمد"] == {
        "agent_name": "ليلى أحمد",
        "calls": 2,
        "connected": 2,
        "talk_time_minutes": 3.0,
        "avg_handle_time_seconds": 150,
        "disposition_rate": 50.0,
        "available_minutes": 27.0,
        "on_call_minutes": 3.0,
        "wrap_up_minutes": 2.0,
        "break_minutes": 30.0,
        "agent_id": str(floor.layla.id),
    }
    # Omar: 400 s of talk is 6.7 min; available 5, on call 5, wrap-up 1; handle time (400 + 60) / 2.
    assert rows["Omar Khalil"] == {
        "agent_name": "Omar Khalil",
        "calls": 2,
        "connected": 2,
        "talk_time_minutes": 6.7,
        "avg_handle_time_seconds": 230,
        "disposition_rate": 100.0,
        "available_minutes": 5.0,
        "on_call_minutes": 5.0,
        "wrap_up_minutes": 1.0,
        "break_minutes": 0.0,
        "agent_id": str(floor.omar.id),
    }
    assert len(rows) == 2


async def test_disposition_summary_counts_and_shares_per_campaign(
    client: httpx.AsyncClient, headers: dict[str, str], floor: Floor
) -> None:
    rows = await rows_of(client, headers, report_type="disposition_summary")

    found = {(row["campaign_name"], row["disposition"]): (row["count"], row["share"]) for row in rows}
    assert found == {
        ("Renewals", "sale"): (1, 100.0),
        ("حملة الصيف", "callback"): (1, 50.0),
        ("حملة الصيف", "sale"): (1, 50.0),
    }


async def test_call_detail_has_the_calls_fields_with_names_and_utc_instants(
    client: httpx.AsyncClient, headers: dict[str, str], floor: Floor
) -> None:
    rows = await rows_of(client, headers, report_type="call_detail")

    assert [row["id"] for row in rows] == [
        str(floor.calls[name]) for name in ("c1", "c2", "c3", "c4", "c5", "c6", "c7")
    ]
    first = rows[0]
    assert list(first) == [
        "id", "campaign_id", "campaign_name", "agent_id", "agent_name", "contact_phone", "direction", "status",
        "disposition", "duration_seconds", "talk_time_seconds", "started_at", "answered_at", "ended_at", "recording_id",
    ]  # fmt: skip
    assert (first["campaign_name"], first["agent_name"], first["disposition"]) == ("Renewals", "ليلى أحمد", "sale")
    assert (first["started_at"], first["answered_at"], first["ended_at"]) == (
        "2026-06-10T08:00:00Z",
        "2026-06-10T08:00:10Z",
        "2026-06-10T08:02:10Z",
    )
    assert (first["talk_time_seconds"], first["duration_seconds"]) == (120, 130)
    assert rows[2]["agent_id"] is None
    assert rows[2]["status"] == "no_answer"


async def test_filters_narrow_every_report(client: httpx.AsyncClient, headers: dict[str, str], floor: Floor) -> None:
    renewals = await rows_of(client, headers, report_type="call_detail", campaign_id=str(floor.renewals))
    omars = await rows_of(client, headers, report_type="call_detail", agent_ids=[str(floor.omar.id)])
    one_campaign = await rows_of(client, headers, report_type="campaign_summary", campaign_id=str(floor.summer))
    narrow = await rows_of(
        client, headers, report_type="call_detail", **{"from": "2026-06-10T08:10:00Z", "to": "2026-06-10T09:10:00Z"}
    )

    assert [row["id"] for row in renewals] == [str(floor.calls[name]) for name in ("c1", "c2", "c3", "c4")]
    assert [row["id"] for row in omars] == [str(floor.calls["c5"]), str(floor.calls["c6"])]
    assert [row["campaign_name"] for row in one_campaign] == ["حملة الصيف"]
    assert [row["id"] for row in narrow] == [str(floor.calls["c2"]), str(floor.calls["c3"])], "both ends inclusive"


async def test_csv_is_rfc_4180_with_local_times_and_arabic_intact(
    client: httpx.AsyncClient, headers: dict[str, str], floor: Floor
) -> None:
    response = await export(client, headers, report_type="call_detail", format="csv", campaign_id=str(floor.renewals))

    payload = response.json()
    text: str = payload["data"]
    assert payload["rows"] == 4
    assert text.startswith("Call ID,Campaign ID,Campaign,Agent ID,Agent,Phone,")
    assert text.count("\r\n") == 5, "a header and four rows, each ended by CRLF"
    table = list(csv.reader(io.StringIO(text)))
    assert table[1][4] == "ليلى أحمد"
    assert table[1][11:14] == ["2026-06-10 12:00:00", "2026-06-10 12:00:10", "2026-06-10 12:02:10"], "Dubai time"
    agents = await export(client, headers, report_type="agent_performance", format="csv")
    lines = agents.json()["data"].split("\r\n")
    assert lines[0].startswith("Agent Name,Calls,Connected,Talk Time (min),Avg Handle Time,Disposition Rate,")
    assert "Omar Khalil,2,2,6.7,230,100.0%,5.0,5.0,1.0,0.0," in agents.json()["data"]


async def test_the_summaries_csv_carries_the_hand_computed_figures(
    client: httpx.AsyncClient, headers: dict[str, str], floor: Floor
) -> None:
    campaigns = await export(client, headers, report_type="campaign_summary", format="csv")
    dispositions = await export(client, headers, report_type="disposition_summary", format="csv")

    campaign_rows = {row[1]: row[2:] for row in csv.reader(io.StringIO(campaigns.json()["data"]))}
    assert campaign_rows["Campaign"][0] == "Dialled"
    assert campaign_rows["Renewals"] == ["4", "2", "33.3%", "1", "1", "1", "90", "2.0"]
    assert campaign_rows["حملة الصيف"] == ["3", "2", "0.0%", "2", "0", "0", "200", "3.0"]
    disposition_rows = {(row[1], row[2]): row[3:] for row in csv.reader(io.StringIO(dispositions.json()["data"]))}
    assert disposition_rows == {
        ("Campaign", "Disposition"): ["Calls", "Share"],
        ("Renewals", "sale"): ["1", "100.0%"],
        ("حملة الصيف", "callback"): ["1", "50.0%"],
        ("حملة الصيف", "sale"): ["1", "50.0%"],
    }


async def test_csv_can_start_with_a_bom_for_excel(
    client: httpx.AsyncClient, headers: dict[str, str], floor: Floor
) -> None:
    plain = await export(client, headers, report_type="disposition_summary", format="csv")
    marked = await export(client, headers, report_type="disposition_summary", format="csv", csv_bom=True)

    assert not plain.json()["data"].startswith("\ufeff")
    assert marked.json()["data"] == "\ufeff" + plain.json()["data"]


async def test_every_report_renders_as_a_pdf_with_its_title_and_cells(
    client: httpx.AsyncClient, headers: dict[str, str], floor: Floor
) -> None:
    for report_type, title, cells in (
        ("call_detail", "Call detail", ["no_answer", "2026-06-10 12:02:10"]),
        ("campaign_summary", "Campaign summary", ["Renewals", "33.3%", "2.0"]),
        ("agent_performance", "Agent performance", ["Omar Khalil", "6.7", "230", "100.0%"]),
        ("disposition_summary", "Disposition summary", ["callback", "50.0%", "100.0%"]),
    ):
        response = await export(client, headers, report_type=report_type, format="pdf")
        assert response.status_code == 200, response.text
        document = base64.b64decode(response.json()["data"])
        assert document.startswith(b"%PDF")
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)
        assert title in text
        for cell in cells:
            assert cell in text, (report_type, cell)
        assert "Asia/Dubai" in text, "the filters say the period's time zone"


async def test_an_agent_exports_only_its_own_calls_and_performance(
    client: httpx.AsyncClient, factory: Factory, floor: Floor
) -> None:
    layla = factory.headers(floor.layla)

    own_calls = await rows_of(client, layla, report_type="call_detail")
    own_performance = await rows_of(client, layla, report_type="agent_performance")

    assert [row["id"] for row in own_calls] == [str(floor.calls["c1"]), str(floor.calls["c2"])]
    assert [row["agent_name"] for row in own_performance] == ["ليلى أحمد"]
    for body in (
        {"report_type": "campaign_summary"},
        {"report_type": "disposition_summary"},
        {"report_type": "call_detail", "agent_ids": [str(floor.omar.id)]},
    ):
        assert_problem(await export(client, layla, format="json", **body), 403, "report-not-allowed")


async def test_a_supervisor_exports_everything_in_the_tenant(
    client: httpx.AsyncClient, supervisor_headers: dict[str, str], floor: Floor
) -> None:
    assert len(await rows_of(client, supervisor_headers, report_type="call_detail")) == 7


async def test_another_tenant_sees_none_of_these_rows_and_not_the_campaign(
    client: httpx.AsyncClient, factory: Factory, floor: Floor, other_tenant: Tenant
) -> None:
    for role in Role:
        outsider = factory.headers(await factory.user(other_tenant, role))
        assert await rows_of(client, outsider, report_type="call_detail") == []
        if role is not Role.agent:
            assert await rows_of(client, outsider, report_type="campaign_summary") == []
            response = await export(
                client, outsider, report_type="campaign_summary", format="json", campaign_id=str(floor.renewals)
            )
            assert_problem(response, 404, "campaign-not-found")


async def test_bad_requests_are_400_problems(client: httpx.AsyncClient, headers: dict[str, str], floor: Floor) -> None:
    good = RANGE | {"report_type": "call_detail", "format": "csv"}
    for body in (
        {k: v for k, v in good.items() if k != "report_type"},
        {k: v for k, v in good.items() if k != "from"},
        {k: v for k, v in good.items() if k != "to"},
        good | {"report_type": "everything"},
        good | {"format": "xlsx"},
        good | {"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"},
        good | {"from": "2025-06-01T00:00:00Z", "to": "2026-06-03T00:00:00Z"},
        good | {"from": "2026-06-01T00:00:00"},
        good | {"agent_ids": ["not-a-uuid"]},
        good | {"campaign_id": 7},
        good | {"unexpected": True},
    ):
        response = await client.post("/v1/reports/export", headers=headers, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    reversed_range = await client.post(
        "/v1/reports/export", headers=headers, json=good | {"from": "2026-06-12T00:00:00Z"}
    )
    assert error_fields(assert_problem(reversed_range, 400, "validation-error")) == {"from"}
    too_long = await client.post("/v1/reports/export", headers=headers, json=good | {"from": "2025-06-09T23:59:58Z"})
    assert error_fields(assert_problem(too_long, 400, "validation-error")) == {"to"}
    one_instant = await client.post("/v1/reports/export", headers=headers, json=good | {"from": good["to"]})
    assert one_instant.status_code == 200, "from equal to to is the calls of that one second"


async def test_a_range_at_the_end_of_the_calendar_is_an_empty_report_not_an_error(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for fmt in ("json", "csv", "pdf"):
        response = await client.post(
            "/v1/reports/export",
            headers=headers,
            json={
                "report_type": "campaign_summary",
                "format": fmt,
                "from": "9999-06-01T00:00:00Z",
                "to": "9999-12-31T23:59:59Z",
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["rows"] == 0


async def test_every_pdf_column_title_is_printed_whole(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for report_type, columns in COLUMNS.items():
        response = await client.post(
            "/v1/reports/export",
            headers=headers,
            json={
                "report_type": report_type,
                "format": "pdf",
                "from": "2020-01-01T00:00:00Z",
                "to": "2020-01-02T00:00:00Z",
            },
        )
        text = PdfReader(io.BytesIO(base64.b64decode(response.json()["data"]))).pages[0].extract_text()
        for column in columns:
            if column.kind is not Kind.id:
                assert column.title in text, (report_type, column.title)
        assert "…" not in text
