"""A contact-centre floor on a running topology (the topology test, `engage bench soak`): a tenant with an admin,
a supervisor and agents, a campaign of numbers that may be called right now, and agents logged in, available and
SIP-registered on the switch simulator.

The people are written through the users service (there is no API for a tenant); everything else goes through
the public API behind the load balancer, as a customer's integration would: login, CLI group, campaign, contact
upload, agent assignment, each agent's own "available", and the start.

The workers run on the real clock (a worker pointed at a switch never accepts a simulated one), so the numbers are
those of a country whose calling hours (the shipped default rule set, holidays included) are open from now until
the run ends: of a ring of single-zone countries around the world, one is always inside 09:00-20:00.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import phonenumbers
from argon2 import PasswordHasher, profiles
from phonenumbers import timezone as phone_timezones

from engage.compliance.checks import Outcome, Subject, calling_hours
from engage.compliance.rules import shipped
from engage.core.clock import SystemClock
from engage.core.db import create_engine, session_factory, tenant_transaction, unscoped_transaction
from engage.core.principal import Role
from engage.core.security import use_password_hasher
from engage.telephony.esl.client import EslClient
from engage.telephony.sim.phones import SimPhones
from engage.tenancy import service as tenancy
from engage.users import service as users
from engage.users.schemas import UserCreate

# One mobile number per country, around the world from UTC+13 to UTC-10; the trailing digits are varied.
COUNTRY_SAMPLES = (
    "+64211234567",  # New Zealand
    "+819012345678",  # Japan
    "+66812345678",  # Thailand
    "+919812345678",  # India
    "+254712345678",  # Kenya
    "+4915112345678",  # Germany
    "+447400123456",  # United Kingdom
    "+5491123456789",  # Argentina
    "+573001234567",  # Colombia
    "+18082345678",  # Hawaii
)
UPLOAD_CHUNK = 5000  # contacts per upload request (the API takes up to 10,000)
_HTTP_TIMEOUT_SECONDS = 60.0
_LOGINS_AT_ONCE = 8


def callable_numbers(count: int, now: datetime, lasting: timedelta) -> list[str]:
    """`count` distinct valid numbers of the first country whose calling hours are open from `now` until
    `now + lasting`."""
    book = shipped()
    for sample in COUNTRY_SAMPLES:
        parsed = phonenumbers.parse(sample)
        region = phonenumbers.region_code_for_number(parsed)
        if region is None:
            raise ValueError(f"{sample} belongs to no region")
        rules = book.for_jurisdiction(region, now.date())
        zone = ZoneInfo(phone_timezones.time_zones_for_number(parsed)[0])
        subject = Subject(phone=sample, jurisdiction=region, zone=zone)
        if all(calling_hours(rules, subject, at).outcome is Outcome.passed for at in (now, now + lasting)):
            found: list[str] = []
            # The last six digits, from a random start: two runs on one database do not share numbers.
            first = secrets.randbelow(500_000)
            for serial in range(first, first + 1_000_000):
                number = f"{sample[:-6]}{serial % 1_000_000:06d}"
                if phonenumbers.is_valid_number(phonenumbers.parse(number)):
                    found.append(number)
                    if len(found) == count:
                        return found
            raise ValueError(f"only {len(found)} valid numbers like {sample}, {count} asked for")
    raise LookupError(f"no country of {COUNTRY_SAMPLES} is inside its calling hours from {now.isoformat()}")


@dataclass(frozen=True, slots=True)
class Person:
    user_id: uuid.UUID
    email: str
    password: str
    role: Role
    sip_user: str | None = None


@dataclass
class People:
    tenant_id: uuid.UUID
    admin: Person
    supervisor: Person
    agents: list[Person]
    tokens: dict[uuid.UUID, str] = field(default_factory=dict)

    def headers(self, person: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[person.user_id]}"}


async def seed_people(database_url: str, *, name: str, agents: int, rate_limit_per_minute: int) -> People:
    """A tenant (in AE) with an admin, a supervisor and `agents` agents with SIP users, written with the services.

    Passwords are hashed at argon2's cheapest cost: at the production cost (64 MiB, 0.5 s a hash here) a hundred
    agents' hashes and logins would spend a minute of CPU measuring nothing these runs are about. Every hash
    carries its parameters, so the API verifies these as it verifies any other."""
    use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    clock = SystemClock()
    engine = create_engine(database_url, pool_size=1)
    sessions = session_factory(engine)
    tag = secrets.token_hex(3)
    try:
        async with unscoped_transaction(sessions) as session:
            tenant = await tenancy.create(
                session,
                name=f"{name} {tag}",
                timezone="Asia/Dubai",
                country="AE",
                rate_limit_per_minute=rate_limit_per_minute,
                clock=clock,
            )
        people: list[Person] = []
        async with tenant_transaction(sessions, tenant.id) as session:
            roles = [Role.admin, Role.supervisor, *[Role.agent] * agents]
            for index, role in enumerate(roles):
                password = secrets.token_urlsafe(12)
                sip_user = f"s{tag}{index:04d}" if role is Role.agent else None
                user = await users.create_user(
                    session,
                    tenant.id,
                    UserCreate(
                        email=f"{role.value}{index}-{tag}@floor.engage.test",
                        password=password,
                        full_name=f"{role.value.title()} {index}",
                        role=role,
                        sip_user=sip_user,
                    ),
                    clock=clock,
                )
                people.append(Person(user.id, user.email, password, role, sip_user))
    finally:
        await engine.dispose()
    return People(tenant.id, people[0], people[1], people[2:])


def expect(response: httpx.Response, *statuses: int) -> Any:
    """The JSON body of a response with one of `statuses`; anything else stops the set-up with the body."""
    if response.status_code not in statuses:
        raise RuntimeError(f"{response.request.method} {response.request.url.path} -> {response.status_code}: "
                           f"{response.text[:500]}")  # fmt: skip
    return response.json() if response.content else None


async def log_in(base_url: str, people: People, persons: Sequence[Person]) -> None:
    """POST /v1/auth/login for each, a few at a time; the tokens are kept on `people`."""
    gate = asyncio.Semaphore(_LOGINS_AT_ONCE)
    async with httpx.AsyncClient(base_url=base_url, timeout=_HTTP_TIMEOUT_SECONDS) as client:

        async def one(person: Person) -> None:
            async with gate:
                body = {"email": person.email, "password": person.password}
                people.tokens[person.user_id] = expect(await client.post("/v1/auth/login", json=body), 200)[
                    "access_token"
                ]

        await asyncio.gather(*(one(person) for person in persons))


async def register_phones(esl_host: str, esl_port: int, esl_password: str, sip_users: Sequence[str]) -> None:
    """The agents' SIP phones register with the switch (the simulator's `sim_register`, over its ESL socket)."""
    client = EslClient()
    await asyncio.wait_for(client.connect(esl_host, esl_port, esl_password), 30)
    try:
        phones = SimPhones(client)
        for sip_user in sip_users:
            await phones.register(sip_user)
    finally:
        await client.close()


@dataclass(frozen=True, slots=True)
class Campaigns:
    dialling: uuid.UUID  # active, paced by a worker
    imports: uuid.UUID  # a draft the CRM uploads small lists into
    phones: tuple[str, ...]
    max_attempts: int


async def open_floor(
    base_url: str,
    people: People,
    *,
    phones: Sequence[str],
    dialing_mode: str,
    max_attempts: int,
    retry_delay_minutes: int,
    wrap_up_seconds: int,
    esl: tuple[str, int, str],
) -> Campaigns:
    """Through the API: log everyone in, make the CLI group, the dialling campaign with `phones` and a draft
    import campaign; agents assigned, each setting itself available with its phone registered; then start."""
    await log_in(base_url, people, [people.admin, people.supervisor, *people.agents])
    admin = people.headers(people.admin)
    async with httpx.AsyncClient(base_url=base_url, timeout=_HTTP_TIMEOUT_SECONDS) as client:
        cli = f"+97142{secrets.randbelow(1_000_000):06d}"
        group = expect(
            await client.post("/v1/cli-groups", json={"name": "Floor", "numbers": [cli]}, headers=admin), 201
        )
        campaign = {
            "dialing_mode": dialing_mode,
            "cli_group_id": group["id"],
            "max_attempts": max_attempts,
            "retry_delay_minutes": retry_delay_minutes,
            "wrap_up_seconds": wrap_up_seconds,
        }
        dialling = expect(await client.post("/v1/campaigns", json={**campaign, "name": "Floor"}, headers=admin), 201)
        imports = expect(await client.post("/v1/campaigns", json={**campaign, "name": "Imports"}, headers=admin), 201)
        for start in range(0, len(phones), UPLOAD_CHUNK):
            chunk = phones[start : start + UPLOAD_CHUNK]
            contacts = [{"phone": phone, "first_name": f"Contact {start + n}"} for n, phone in enumerate(chunk)]
            path = f"/v1/campaigns/{dialling['id']}/contacts"
            uploaded = expect(await client.post(path, json={"contacts": contacts}, headers=admin), 201)
            if uploaded["imported"] != len(chunk):
                raise RuntimeError(f"uploaded {len(chunk)} contacts, {uploaded['imported']} imported: {uploaded}")
        agent_ids = [str(agent.user_id) for agent in people.agents]
        expect(
            await client.post(f"/v1/campaigns/{dialling['id']}/agents", json={"agent_ids": agent_ids}, headers=admin),
            200,
            201,
        )
        for agent in people.agents:
            expect(
                await client.post(
                    "/v1/agents/me/state", json={"state": "available"}, headers=people.headers(agent)
                ),
                200,
            )  # fmt: skip
        await register_phones(*esl, [agent.sip_user for agent in people.agents if agent.sip_user])
        expect(await client.post(f"/v1/campaigns/{dialling['id']}/start", headers=admin), 200)
    return Campaigns(uuid.UUID(dialling["id"]), uuid.UUID(imports["id"]), tuple(phones), max_attempts)
