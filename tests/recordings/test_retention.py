"""GET/PUT /v1/recordings/retention and the purge: recordings older than their tenant's retention leave storage,
their rows stay as the trace; a tenant without retention keeps everything."""

from __future__ import annotations

from datetime import timedelta

import httpx

from engage.core.clock import ManualClock
from engage.recordings.uploader import Uploader
from engage.storage.local import LocalStore
from engage.tenancy.models import Tenant

from ..problems import assert_problem, error_fields
from .conftest import Recorder, stored


async def test_retention_is_unset_until_an_admin_sets_it_and_only_admins_may(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    supervisor_headers: dict[str, str],
    agent_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    assert (await client.get("/v1/recordings/retention", headers=headers)).json() == {"retention_days": None}

    for not_allowed in (supervisor_headers, agent_headers):
        refused = await client.put("/v1/recordings/retention", headers=not_allowed, json={"retention_days": 30})
        assert_problem(refused, 403, "forbidden")
    response = await client.put("/v1/recordings/retention", headers=headers, json={"retention_days": 90})

    assert response.status_code == 200
    assert response.json() == {"retention_days": 90}
    assert (await client.get("/v1/recordings/retention", headers=agent_headers)).json() == {"retention_days": 90}
    assert (await client.get("/v1/recordings/retention", headers=other_headers)).json() == {"retention_days": None}
    cleared = await client.put("/v1/recordings/retention", headers=headers, json={"retention_days": None})
    assert cleared.json() == {"retention_days": None}


async def test_a_bad_retention_is_a_400_problem_and_changes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await client.put("/v1/recordings/retention", headers=headers, json={"retention_days": 30})
    for body in (
        {"retention_days": 0},
        {"retention_days": 3651},
        {"retention_days": "thirty"},
        {"retention_days": 1.5},
        {"retention_days": True},
        {"retention_days": "30"},
        {},
        {"retention_days": 30, "tenant_id": "x"},
    ):
        response = await client.put("/v1/recordings/retention", headers=headers, json=body)
        assert response.status_code in (400, 422), body
        assert response.headers["content-type"] == "application/problem+json"
        if "tenant_id" not in body:
            assert error_fields(assert_problem(response, 400, "validation-error")) == {"retention_days"}
    assert (await client.get("/v1/recordings/retention", headers=headers)).json() == {"retention_days": 30}


async def test_the_purge_deletes_only_recordings_past_their_tenants_retention(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    tenant: Tenant,
    other_tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
    store: LocalStore,
    clock: ManualClock,
) -> None:
    await client.put("/v1/recordings/retention", headers=headers, json={"retention_days": 30})
    old = await stored(recorder, uploader, tenant, at=clock.now() - timedelta(days=31))
    recent = await stored(recorder, uploader, tenant, at=clock.now() - timedelta(days=29))
    other_old = await stored(recorder, uploader, other_tenant, at=clock.now() - timedelta(days=400))

    purged = 0
    for _ in range(20):  # the run's database is shared: other tests' expired recordings may come first
        purged += await uploader.purge_expired()
        if (await recorder.row(tenant, old.recording_id)).status == "deleted":
            break

    assert purged >= 1
    old_row = await recorder.row(tenant, old.recording_id)
    assert (old_row.status, old_row.deletion_reason, old_row.deleted_by) == ("deleted", "retention", None)
    assert not (store.root / old_row.object_key).exists()
    recent_row = await recorder.row(tenant, recent.recording_id)
    assert recent_row.status == "stored"
    assert (store.root / recent_row.object_key).exists()
    assert (await recorder.row(other_tenant, other_old.recording_id)).status == "stored"
    listed = await client.get("/v1/recordings", headers=headers)
    assert [item["id"] for item in listed.json()["items"]] == [str(recent.recording_id)]
