"""GET /v1/recordings, GET /v1/recordings/{id}, GET /v1/recordings/{id}/play, DELETE /v1/recordings/{id}: the
seed's shapes, filters, roles (an agent sees only its own), tenant isolation, signed local URLs, deletion with a
trace."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from engage.config import Settings
from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.recordings.uploader import Uploader
from engage.storage.port import SignedUrl, StorageError
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..conftest import ClientFor
from ..factories import Factory
from ..problems import assert_problem
from .conftest import Recorder, stored

SEED_FIELDS = [
    "id",
    "call_id",
    "agent_id",
    "agent_name",
    "campaign_id",
    "contact_phone",
    "duration_seconds",
    "format",
    "size_bytes",
    "recorded_at",
]


async def test_a_stored_recording_is_listed_with_the_seeds_fields_and_nothing_internal(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    factory: Factory,
    tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
) -> None:
    agent = await factory.user(tenant, Role.agent, full_name="Layla Ahmed")
    campaign_id = await factory.campaign(tenant)
    recorded = await stored(recorder, uploader, tenant, agent=agent, campaign_id=campaign_id, seconds=3)

    response = await client.get("/v1/recordings", headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "next_cursor", "has_more"}
    assert body["total"] == 1
    item = body["items"][0]
    assert list(item) == SEED_FIELDS
    assert item == {
        "id": str(recorded.recording_id),
        "call_id": str(recorded.call.id),
        "agent_id": str(agent.id),
        "agent_name": "Layla Ahmed",
        "campaign_id": str(campaign_id),
        "contact_phone": recorded.call.contact_phone,
        "duration_seconds": 3,
        "format": "wav",
        "size_bytes": len(recorded.audio),
        "recorded_at": "2026-06-12T10:00:00Z",
    }
    assert "recordings/" not in response.text
    assert str(recorded.path) not in response.text
    single = await client.get(f"/v1/recordings/{recorded.recording_id}", headers=headers)
    assert single.status_code == 200
    assert single.json() == item


async def test_the_call_names_its_recording_from_the_moment_recording_starts(
    tenant: Tenant, recorder: Recorder
) -> None:
    recorded = await recorder.record(tenant, stop=False)

    call = await recorder.call(tenant, recorded.call.id)

    assert call.recording_id == recorded.recording_id


async def test_a_recording_still_uploading_is_not_listed_and_answers_409(
    client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, recorder: Recorder
) -> None:
    recorded = await recorder.record(tenant)

    listing = await client.get("/v1/recordings", headers=headers)
    single = await client.get(f"/v1/recordings/{recorded.recording_id}", headers=headers)
    play = await client.get(f"/v1/recordings/{recorded.recording_id}/play", headers=headers)

    assert listing.json()["total"] == 0
    assert_problem(single, 409, "recording-not-ready")
    assert_problem(play, 409, "recording-not-ready")
    assert play.headers["retry-after"] == "5"


async def test_filters_narrow_the_list_by_campaign_agent_time_and_duration(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    factory: Factory,
    tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
    clock: ManualClock,
) -> None:
    agent = await factory.user(tenant, Role.agent)
    other_agent = await factory.user(tenant, Role.agent)
    campaign_id = await factory.campaign(tenant)
    early = await stored(
        recorder, uploader, tenant, agent=agent, campaign_id=campaign_id, seconds=1, at=clock.now() - timedelta(hours=2)
    )
    long_one = await stored(recorder, uploader, tenant, agent=other_agent, seconds=4)
    late = await stored(recorder, uploader, tenant, agent=agent, seconds=2, at=clock.now() + timedelta(hours=1))

    async def ids(**params: str) -> list[str]:
        response = await client.get("/v1/recordings", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [str(late.recording_id), str(long_one.recording_id), str(early.recording_id)]
    assert await ids(campaign_id=str(campaign_id)) == [str(early.recording_id)]
    assert await ids(agent_id=str(agent.id)) == [str(late.recording_id), str(early.recording_id)]
    assert await ids(min_duration="3") == [str(long_one.recording_id)]
    assert await ids(**{"from": "2026-06-12T09:00:00Z"}) == [str(late.recording_id), str(long_one.recording_id)]
    assert await ids(to="2026-06-12T10:00:00Z") == [str(long_one.recording_id), str(early.recording_id)]
    page = await client.get("/v1/recordings", headers=headers, params={"limit": "2"})
    assert page.json()["has_more"] is True
    rest = await client.get("/v1/recordings", headers=headers, params={"cursor": page.json()["next_cursor"]})
    assert [item["id"] for item in rest.json()["items"]] == [str(early.recording_id)]


async def test_bad_list_parameters_are_400_problems(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for params in (
        {"limit": "201"},
        {"limit": "0"},
        {"min_duration": "-1"},
        {"min_duration": "ten"},
        {"from": "2026-06-12T10:00:00"},
        {"from": "2026-06-13T00:00:00Z", "to": "2026-06-12T00:00:00Z"},
        {"campaign_id": "not-a-uuid"},
        {"cursor": "!!"},
    ):
        response = await client.get("/v1/recordings", headers=headers, params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_play_returns_a_one_hour_url_whose_bytes_are_the_recorded_audio(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
    clock: ManualClock,
) -> None:
    recorded = await stored(recorder, uploader, tenant, seconds=2)

    response = await client.get(f"/v1/recordings/{recorded.recording_id}/play", headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["id", "url", "expires_at", "format", "duration_seconds"]
    assert body["id"] == str(recorded.recording_id)
    assert body["expires_at"] == "2026-06-12T11:00:00Z"
    assert body["format"] == "wav"
    assert body["duration_seconds"] == 2
    assert body["url"].startswith("http://engage.test/files/")
    fetched = await client.get(body["url"])  # no token: the signature is the credential
    assert fetched.status_code == 200
    assert fetched.content == recorded.audio
    assert fetched.headers["content-type"] == "audio/wav"
    # Each call signs afresh.
    clock.advance(5)
    again = await client.get(f"/v1/recordings/{recorded.recording_id}/play", headers=headers)
    assert again.json()["url"] != body["url"]


def _tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_a_tampered_or_expired_playback_url_is_refused_with_403(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
    clock: ManualClock,
) -> None:
    first = await stored(recorder, uploader, tenant)
    second = await stored(recorder, uploader, tenant)
    url = (await client.get(f"/v1/recordings/{first.recording_id}/play", headers=headers)).json()["url"]
    other_url = (await client.get(f"/v1/recordings/{second.recording_id}/play", headers=headers)).json()["url"]
    query = dict(parse_qsl(urlsplit(url).query))

    signature = query["signature"]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    later = str(int(query["expires"]) + 3600)
    # The first URL's signature on the second recording's path.
    swapped = urlunsplit(urlsplit(other_url)._replace(query=urlsplit(url).query))
    for bad in (_tampered(url, signature=flipped), _tampered(url, expires=later), swapped, url.split("?")[0]):
        response = await client.get(bad)
        assert response.status_code == 403, bad
        assert response.headers["content-type"] == "application/problem+json"

    assert (await client.get(url)).status_code == 200
    clock.advance(3601)
    expired = await client.get(url)
    assert expired.status_code == 403
    assert expired.headers["content-type"] == "application/problem+json"


async def test_an_agent_sees_and_plays_only_its_own_recordings(
    client: httpx.AsyncClient,
    factory: Factory,
    tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
    supervisor_headers: dict[str, str],
) -> None:
    me = await factory.user(tenant, Role.agent)
    colleague = await factory.user(tenant, Role.agent)
    mine = await stored(recorder, uploader, tenant, agent=me)
    theirs = await stored(recorder, uploader, tenant, agent=colleague)
    my_headers = factory.headers(me)

    listing = await client.get("/v1/recordings", headers=my_headers)
    asked_for_theirs = await client.get("/v1/recordings", headers=my_headers, params={"agent_id": str(colleague.id)})

    assert [item["id"] for item in listing.json()["items"]] == [str(mine.recording_id)]
    assert asked_for_theirs.json()["items"] == []
    assert (await client.get(f"/v1/recordings/{mine.recording_id}/play", headers=my_headers)).status_code == 200
    assert_problem(
        await client.get(f"/v1/recordings/{theirs.recording_id}", headers=my_headers), 404, "recording-not-found"
    )
    assert_problem(
        await client.get(f"/v1/recordings/{theirs.recording_id}/play", headers=my_headers), 404, "recording-not-found"
    )
    everyone = await client.get("/v1/recordings", headers=supervisor_headers)
    assert {item["id"] for item in everyone.json()["items"]} >= {str(mine.recording_id), str(theirs.recording_id)}


async def test_another_tenants_recording_is_404_to_every_role_and_never_listed(
    client: httpx.AsyncClient,
    factory: Factory,
    tenant: Tenant,
    other_tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
) -> None:
    recorded = await stored(recorder, uploader, tenant)
    outsiders: list[User] = [await factory.user(other_tenant, role) for role in Role]

    for outsider in outsiders:
        outsider_headers = factory.headers(outsider)
        assert (await client.get("/v1/recordings", headers=outsider_headers)).json()["total"] == 0
        for path in (f"/v1/recordings/{recorded.recording_id}", f"/v1/recordings/{recorded.recording_id}/play"):
            assert_problem(await client.get(path, headers=outsider_headers), 404, "recording-not-found")
        deleted = await client.delete(f"/v1/recordings/{recorded.recording_id}", headers=outsider_headers)
        assert deleted.status_code in (403, 404)
        if outsider.role is Role.admin:
            assert_problem(deleted, 404, "recording-not-found")

    row = await recorder.row(tenant, recorded.recording_id)
    assert row.status == "stored"


async def test_an_admin_deletes_a_recording_its_audio_goes_and_a_trace_stays(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    admin: User,
    supervisor_headers: dict[str, str],
    agent_headers: dict[str, str],
    tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
) -> None:
    recorded = await stored(recorder, uploader, tenant)
    url = (await client.get(f"/v1/recordings/{recorded.recording_id}/play", headers=headers)).json()["url"]

    for not_allowed in (supervisor_headers, agent_headers):
        assert_problem(
            await client.delete(f"/v1/recordings/{recorded.recording_id}", headers=not_allowed), 403, "forbidden"
        )
    assert (await client.get(url)).status_code == 200

    response = await client.delete(f"/v1/recordings/{recorded.recording_id}", headers=headers)

    assert response.status_code == 204
    assert (await client.get(url)).status_code == 404
    row = await recorder.row(tenant, recorded.recording_id)
    assert (row.status, row.deletion_reason, row.deleted_by) == ("deleted", "admin", admin.id)
    gone = assert_problem(
        await client.get(f"/v1/recordings/{recorded.recording_id}", headers=headers), 404, "recording-not-found"
    )
    assert "deleted" in gone["detail"]
    assert gone["deleted_at"] == "2026-06-12T10:00:00Z"
    assert (await client.get("/v1/recordings", headers=headers)).json()["total"] == 0
    assert_problem(
        await client.delete(f"/v1/recordings/{recorded.recording_id}", headers=headers), 404, "recording-not-found"
    )


async def test_a_recording_still_uploading_cannot_be_deleted(
    client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, recorder: Recorder
) -> None:
    recorded = await recorder.record(tenant)

    response = await client.delete(f"/v1/recordings/{recorded.recording_id}", headers=headers)

    assert_problem(response, 409, "recording-not-ready")
    assert (await recorder.row(tenant, recorded.recording_id)).status == "pending"


class UnreachableStore:
    """Object storage that is down: every call fails as boto3's would, turned into StorageError."""

    async def presign_get(self, key: str, **_: object) -> SignedUrl:
        raise StorageError(f"presign {key}: endpoint unreachable")

    async def delete(self, key: str) -> None:
        raise StorageError(f"delete {key}: endpoint unreachable")


async def test_storage_down_is_a_503_problem_and_a_delete_changes_nothing(
    settings: Settings,
    runtime: Runtime,
    client_for: ClientFor,
    headers: dict[str, str],
    tenant: Tenant,
    recorder: Recorder,
    uploader: Uploader,
) -> None:
    recorded = await stored(recorder, uploader, tenant)
    app = create_app(settings, runtime=runtime)
    app.state.store = UnreachableStore()

    async with client_for(app) as client:
        play = await client.get(f"/v1/recordings/{recorded.recording_id}/play", headers=headers)
        deleted = await client.delete(f"/v1/recordings/{recorded.recording_id}", headers=headers)

    assert_problem(play, 503, "storage-unavailable")
    assert_problem(deleted, 503, "storage-unavailable")
    assert "unreachable" not in play.text
    assert (await recorder.row(tenant, recorded.recording_id)).status == "stored"
