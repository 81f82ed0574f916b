"""A realistic API mix against a floor (`floor.py`), through the load balancer, until told to stop; and the
dialer's invariants read back from the database afterwards.

The mix, each actor on a keep-alive connection of its own (so the balancer spreads them over the APIs):
- every agent polls its desk: its state (`GET /v1/agents/me/state`) and its call (`GET /v1/agents/me/call`), and
  dispositions a call that reached it once it has ended (`POST /v1/calls/{id}/disposition`);
- a supervisor reads the wallboard: the agents board, live and today's call counts, the campaign's latest calls
  and the campaign itself;
- the CRM searches contacts by name, and every few rounds uploads a small list to a draft campaign; what each
  acknowledged upload (201) carried is kept, to be found in the database afterwards.

Nothing retries: every response's status and every dropped connection (with its instant) is tallied, so a test
can tell a dropped connection at the instant an API was killed from an error anywhere else.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from random import Random
from typing import Any

import asyncpg
import httpx

from engage.bench.floor import Campaigns, People, Person
from engage.bench.people import make_people

# How often each actor acts, in seconds (jittered by a quarter either way so the actors do not march in step).
AGENT_POLL_SECONDS = 2.0
SUPERVISOR_SECONDS = 2.0
CRM_SECONDS = 1.0
UPLOAD_EVERY = 10  # CRM rounds
UPLOAD_SIZE = 20
_TIMEOUT_SECONDS = 30.0
_SEARCH_TERMS = ("Ahmad", "Mohammed", "Sara", "Fatima", "Al Rashid", "Khalil", "Contact", "Omar", "محمد", "Hassan")
LIVE = ("dialing", "ringing", "answered", "bridged")


@dataclass(frozen=True, slots=True)
class Dropped:
    at: float  # time.monotonic()
    request: str
    error: str


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: list[Dropped] = field(default_factory=list)
    server_errors: list[tuple[float, str, int, str]] = field(default_factory=list)
    client_errors: list[tuple[str, int, str]] = field(default_factory=list)
    uploads_acknowledged: list[tuple[str, ...]] = field(default_factory=list)
    uploads_unknown: list[tuple[str, ...]] = field(default_factory=list)  # dropped: stored in full or not at all
    dispositions: int = 0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + len(self.dropped)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": dict(sorted(self.statuses.items())),
            "dropped_connections": len(self.dropped),
            "uploads_acknowledged": len(self.uploads_acknowledged),
            "dispositions": self.dispositions,
        }


@dataclass
class Mix:
    base_url: str
    people: People
    campaigns: Campaigns
    tally: Tally = field(default_factory=Tally)
    agent_poll_seconds: float = AGENT_POLL_SECONDS
    seed: int = 16

    async def run(self, stop: asyncio.Event) -> None:
        """Every actor until `stop` is set; each finishes the request it has in flight."""
        rng = Random(self.seed)  # noqa: S311 - load shape, not secrets
        actors = [self._agent(agent, stop, Random(rng.random())) for agent in self.people.agents]  # noqa: S311
        actors += [self._supervisor(stop, Random(rng.random())), self._crm(stop, Random(rng.random()))]  # noqa: S311
        await asyncio.gather(*actors)

    async def _request(
        self, client: httpx.AsyncClient, person: Person, method: str, path: str, json: Any = None
    ) -> httpx.Response | None:
        label = f"{method} {path}"
        try:
            response = await client.request(method, path, json=json, headers=self.people.headers(person))
        except httpx.TransportError as exc:
            self.tally.dropped.append(Dropped(time.monotonic(), label, f"{type(exc).__name__}: {exc}"[:200]))
            return None
        self.tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.tally.server_errors.append((time.monotonic(), label, response.status_code, response.text[:300]))
        elif response.status_code >= 400:
            self.tally.client_errors.append((label, response.status_code, response.text[:300]))
        return response

    @staticmethod
    async def _pause(stop: asyncio.Event, seconds: float, rng: Random) -> None:
        # A wait that ends early when the run stops; the jitter spreads the actors over the period.
        try:
            await asyncio.wait_for(stop.wait(), seconds * rng.uniform(0.75, 1.25))
        except TimeoutError:
            return

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=_TIMEOUT_SECONDS)

    async def _agent(self, agent: Person, stop: asyncio.Event, rng: Random) -> None:
        dispositioned: set[str] = set()
        async with self._client() as client:
            await self._pause(stop, self.agent_poll_seconds * rng.random(), rng)
            while not stop.is_set():
                await self._request(client, agent, "GET", "/v1/agents/me/state")
                desk = await self._request(client, agent, "GET", "/v1/agents/me/call")
                call = desk.json().get("call") if desk is not None and desk.status_code == 200 else None
                if (
                    call is not None
                    and call["ended_at"] is not None
                    and call["dispositioned_at"] is None
                    and call["id"] not in dispositioned
                ):
                    body = {"disposition": rng.choice(["sale", "callback_declined", "not_interested"])}
                    answer = await self._request(client, agent, "POST", f"/v1/calls/{call['id']}/disposition", body)
                    if answer is not None and answer.status_code == 200:
                        dispositioned.add(call["id"])
                        self.tally.dispositions += 1
                await self._pause(stop, self.agent_poll_seconds, rng)

    async def _supervisor(self, stop: asyncio.Event, rng: Random) -> None:
        supervisor = self.people.supervisor
        campaign = self.campaigns.dialling
        reads = [
            "/v1/agents/state",
            "/v1/calls/active-count",
            f"/v1/calls/count-today?campaign_id={campaign}",
            f"/v1/calls?campaign_id={campaign}&limit=50",
            f"/v1/campaigns/{campaign}",
        ]
        async with self._client() as client:
            while not stop.is_set():
                for path in reads:
                    await self._request(client, supervisor, "GET", path)
                await self._pause(stop, SUPERVISOR_SECONDS, rng)

    async def _crm(self, stop: asyncio.Event, rng: Random) -> None:
        admin = self.people.admin
        rounds = 0
        async with self._client() as client:
            while not stop.is_set():
                query = {"q": rng.choice(_SEARCH_TERMS), "limit": 20}
                await self._request(client, admin, "POST", "/v1/contacts/search", query)
                rounds += 1
                if rounds % UPLOAD_EVERY == 0:
                    await self._upload(client, admin, rng)
                await self._pause(stop, CRM_SECONDS, rng)

    async def _upload(self, client: httpx.AsyncClient, admin: Person, rng: Random) -> None:
        listed = make_people(rng, UPLOAD_SIZE)
        contacts = [
            {"phone": p.phone, "first_name": p.first_name, "last_name": p.last_name, "custom_fields": p.custom_fields}
            for p in listed
        ]
        phones = tuple(p.phone for p in listed)
        path = f"/v1/campaigns/{self.campaigns.imports}/contacts"
        response = await self._request(client, admin, "POST", path, {"contacts": contacts})
        if response is None:
            self.tally.uploads_unknown.append(phones)
        elif response.status_code == 201:
            self.tally.uploads_acknowledged.append(phones)


# -- what the database says afterwards ------------------------------------------------------------------------------


async def invariants(owner: asyncpg.Connection, campaigns: Campaigns) -> dict[str, int]:
    """The dialer's promises over the dialling campaign, each a count that must be 0."""
    campaign = campaigns.dialling
    row = await owner.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM contacts WHERE campaign_id = $1 AND attempts > $2) AS contacts_over_max_attempts,
          (SELECT count(*) FROM contacts WHERE campaign_id = $1 AND status = 'dialing') AS contacts_left_dialing,
          (SELECT count(*) FROM calls WHERE campaign_id = $1 AND status = ANY($3::text[])) AS calls_left_live,
          (SELECT count(*) FROM calls WHERE campaign_id = $1 AND ended_at IS NULL) AS calls_without_an_end,
          (SELECT count(*) - count(DISTINCT compliance_audit_ref) FROM calls WHERE campaign_id = $1)
            AS calls_sharing_an_audited_decision,
          (SELECT count(*) FROM contacts c WHERE c.campaign_id = $1
             AND c.attempts <> (SELECT count(*) FROM calls k WHERE k.contact_id = c.id)) AS attempts_not_one_call_each,
          (SELECT count(*) FROM calls a JOIN calls b ON a.contact_phone = b.contact_phone AND a.id < b.id
             WHERE a.campaign_id = $1 AND b.campaign_id = $1
               AND b.started_at < coalesce(a.ended_at, 'infinity') AND a.started_at < coalesce(b.ended_at, 'infinity'))
            AS numbers_dialled_twice_at_once,
          (SELECT count(*) FROM (SELECT contact_id FROM calls WHERE campaign_id = $1 AND bridged_at IS NOT NULL
             GROUP BY contact_id HAVING count(*) > 1) AS twice) AS contacts_bridged_twice
        """,
        campaign,
        campaigns.max_attempts,
        list(LIVE),
    )
    assert_row(row)
    return {key: int(value) for key, value in dict(row).items()}


def assert_row(row: asyncpg.Record | None) -> None:
    if row is None:
        raise RuntimeError("an aggregate query returned no row")


async def missing_uploads(owner: asyncpg.Connection, campaigns: Campaigns, tally: Tally) -> dict[str, int]:
    """Contacts of acknowledged uploads not in the import campaign, and uploads cut by a dropped connection that
    were stored only in part (each must be all there or not at all)."""
    stored = {
        phone for (phone,) in await owner.fetch("SELECT phone FROM contacts WHERE campaign_id = $1", campaigns.imports)
    }
    missing = sum(1 for upload in tally.uploads_acknowledged for phone in upload if phone not in stored)
    partial = sum(1 for upload in tally.uploads_unknown if 0 < sum(phone in stored for phone in upload) < len(upload))
    return {"acknowledged_contacts_missing": missing, "dropped_uploads_stored_in_part": partial}


async def dialling_figures(owner: asyncpg.Connection, campaign_id: uuid.UUID) -> dict[str, float | int]:
    """Calls made, bridged to an agent, abandoned, and the abandon rate (abandoned of those answered by a person,
    the denominator the reports use), in percent."""
    row = await owner.fetchrow(
        """
        SELECT count(*) AS calls,
               count(*) FILTER (WHERE bridged_at IS NOT NULL) AS bridged,
               count(*) FILTER (WHERE abandoned) AS abandoned,
               count(*) FILTER (WHERE answered_at IS NOT NULL AND status <> 'voicemail') AS answered_by_person,
               count(*) FILTER (WHERE status = ANY($2::text[])) AS live
        FROM calls WHERE campaign_id = $1
        """,
        campaign_id,
        list(LIVE),
    )
    assert_row(row)
    answered = int(row["answered_by_person"])
    return {
        "calls": int(row["calls"]),
        "bridged": int(row["bridged"]),
        "live": int(row["live"]),
        "abandoned": int(row["abandoned"]),
        "abandon_rate_percent": round(100 * int(row["abandoned"]) / answered, 2) if answered else 0.0,
    }


async def lease_holder(owner: asyncpg.Connection, campaign_id: uuid.UUID) -> int | None:
    """The pid of the worker holding the campaign's lease, if any."""
    pid: int | None = await owner.fetchval(
        "SELECT w.pid FROM campaign_leases l JOIN dialer_workers w ON w.id = l.worker_id WHERE l.campaign_id = $1",
        campaign_id,
    )
    return pid
