"""The demo tenant: one admin, one supervisor, two agents in one team, with fresh random passwords; and, for
`engage serve`, a floor that dials: a CLI group, a running predictive campaign of a few hundred contacts, eight
agents whose simulated phones answer, and a small sample national registry (clearly labelled, loaded only
where no real one was).

Idempotent: run again, it finds the demo tenant by its admin's email and gives the demo users new
passwords, so the logins it prints always work; a floor is added only when no demo campaign is running.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.agents import service as agents
from engage.agents.schemas import AgentStateChange, SettableStatus
from engage.campaigns import service as campaigns
from engage.campaigns.schemas import CampaignAgentsAssign, CampaignCreate, CampaignStatus, DialingMode
from engage.cli_groups import service as cli_groups
from engage.cli_groups.schemas import CliGroupCreate
from engage.compliance.checks import Subject, calling_hours
from engage.compliance.rules import shipped
from engage.contacts import service as contacts
from engage.contacts.schemas import ContactIn, ContactUpload
from engage.core.clock import Clock
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.pagination import PageParams
from engage.core.principal import Principal, Role
from engage.registry import repository as registry_repository
from engage.registry import service as registry
from engage.tenancy import service as tenancy
from engage.users import repository as users_repository
from engage.users import service as users
from engage.users.schemas import TeamCreate, UserCreate, UserUpdate

DEMO_DOMAIN = "demo.engage.local"


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    full_name: str
    role: Role
    sip_user: str | None


DEMO_USERS = (
    DemoUser(f"admin@{DEMO_DOMAIN}", "Mariam Haddad", Role.admin, None),
    DemoUser(f"supervisor@{DEMO_DOMAIN}", "Karim Nasser", Role.supervisor, None),
    DemoUser(f"layla@{DEMO_DOMAIN}", "Layla Ahmed", Role.agent, "agent_1001"),
    DemoUser(f"omar@{DEMO_DOMAIN}", "Omar Khalil", Role.agent, "agent_1002"),
)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    password: str
    role: Role
    full_name: str


@dataclass(frozen=True, slots=True)
class Demo:
    tenant_id: uuid.UUID
    logins: list[DemoLogin]


def _password() -> str:
    return secrets.token_urlsafe(12)


async def seed_demo(sessions: async_sessionmaker[AsyncSession], clock: Clock, *, rate_limit_per_minute: int) -> Demo:
    async with unscoped_transaction(sessions) as session:
        found = await users_repository.find_login(session, DEMO_USERS[0].email)
    logins = [DemoLogin(u.email, _password(), u.role, u.full_name) for u in DEMO_USERS]
    if found is not None:
        tenant_id = found[1]
        async with tenant_transaction(sessions, tenant_id) as session:
            admin = await users.get_user(session, found[0])
            for login in logins:
                match = await users_repository.find_login(session, login.email)
                if match is not None:
                    actor = Principal(user_id=admin.id, tenant_id=tenant_id, role=Role.admin)
                    await users.update_user(session, actor, match[0], UserUpdate(password=login.password), clock=clock)
        return Demo(tenant_id=tenant_id, logins=logins)
    async with unscoped_transaction(sessions) as session:
        tenant = await tenancy.create(
            session,
            name="Demo Contact Centre",
            timezone="Asia/Dubai",
            country="AE",
            rate_limit_per_minute=rate_limit_per_minute,
            clock=clock,
        )
        team = await users.create_team(session, tenant.id, TeamCreate(name="Renewals"), clock=clock)
        for spec, login in zip(DEMO_USERS, logins, strict=True):
            await users.create_user(
                session,
                tenant.id,
                UserCreate(
                    email=spec.email,
                    password=login.password,
                    full_name=spec.full_name,
                    role=spec.role,
                    sip_user=spec.sip_user,
                    team_id=team.id if spec.role is Role.agent else None,
                ),
                clock=clock,
            )
    return Demo(tenant_id=tenant.id, logins=logins)


# -- a floor that dials (engage serve) -----------------------------------------------------------------------------

DEMO_CAMPAIGN = "Demo Renewals"
DEMO_CONTACTS = 300
DEMO_FLOOR_AGENTS = 6  # besides Layla and Omar, who have logins
DEMO_CLI = "+97142001000"
_FIRST_NAMES = (
    "Ahmad",
    "Sara",
    "Fatima",
    "Omar",
    "Layla",
    "Yousef",
    "Mariam",
    "Khalid",
    "Noor",
    "Hassan",
    "أحمد",
    "سارة",
    "فاطمة",
    "عمر",
    "ليلى",
)
_LAST_NAMES = (
    "Al Rashid",
    "Hassan",
    "Al Mansoori",
    "Khalil",
    "Haddad",
    "Nasser",
    "Al Suwaidi",
    "الرشيد",
    "المنصوري",
    "الحداد",
)


def demo_numbers(count: int = DEMO_CONTACTS) -> list[str]:
    """The same valid UAE mobile numbers on every run (a seeded generator, not anyone's real list)."""
    rng = random.Random(971)  # noqa: S311 - demo data, not security
    numbers: dict[str, None] = {}
    while len(numbers) < count:
        numbers[f"+9715{rng.choice('02568')}{rng.randrange(10_000_000):07d}"] = None
    return list(numbers)


def demo_clock_start(now: datetime) -> datetime:
    """The latest instant at or before `now` at 10:00 in Dubai on a day AE allows calls (not a weekend or public
    holiday): the demo's simulated clock starts there, so `make run` dials at any real hour."""
    zone = ZoneInfo("Asia/Dubai")
    day = now.astimezone(zone).date()
    for back in range(30):
        candidate = datetime.combine(day - timedelta(days=back), time(10, 0), zone)
        if candidate > now:
            continue
        rules = shipped().for_jurisdiction("AE", candidate.date())
        if calling_hours(rules, Subject(phone=DEMO_CLI, jurisdiction="AE", zone=zone), candidate).blocks:
            continue
        return candidate.astimezone(UTC)
    return now


async def load_sample_registry(sessions: async_sessionmaker[AsyncSession], database_url: str, clock: Clock) -> bool:
    """AE's registry must be loaded for AE numbers to be dialled (the compliance rule set requires it). Where it
    never was, load a small sample, named as one, holding a few of the demo's numbers: the demo then shows
    `dnc_national` blocks too. A real registry is never touched."""
    async with unscoped_transaction(sessions) as session:
        if "AE" in await registry_repository.loaded(session):
            return False
    sample = demo_numbers()[::50]  # six of the demo contacts
    with tempfile.TemporaryDirectory(prefix="engage-demo-") as folder:
        path = Path(folder) / "DEMO-SAMPLE-not-the-TDRA-registry.csv"
        text = "phone\n" + "".join(f"{number}\n" for number in sample)
        await asyncio.to_thread(path.write_text, text, "utf-8")
        await registry.import_registry(database_url, "AE", path, replace=False, clock=clock)
    return True


async def seed_floor(sessions: async_sessionmaker[AsyncSession], clock: Clock, tenant_id: uuid.UUID) -> bool:
    """A running predictive campaign with its CLI group, contacts and available agents, unless one runs."""
    async with tenant_transaction(sessions, tenant_id) as session:
        page = await campaigns.list_campaigns(
            session, PageParams(limit=100, after=None), status=CampaignStatus.active, clock=clock
        )
        if any(item["name"] == DEMO_CAMPAIGN for item in page["items"]):
            return False
        found = await users_repository.find_login(session, DEMO_USERS[0].email)
        if found is None:
            return False
        admin = Principal(user_id=found[0], tenant_id=tenant_id, role=Role.admin)
        groups = await cli_groups.list_groups(session, PageParams(limit=100, after=None))
        group = next((g for g in groups.rows if g.name == "Demo caller IDs"), None)
        if group is None:
            group = await cli_groups.create_group(
                session, tenant_id, CliGroupCreate(name="Demo caller IDs", numbers=[DEMO_CLI]), clock=clock
            )
        view = await campaigns.create_campaign(
            session,
            tenant_id,
            CampaignCreate(
                name=DEMO_CAMPAIGN, dialing_mode=DialingMode.predictive, cli_group_id=group.id, wrap_up_seconds=5
            ),
            clock=clock,
        )
        rng = random.Random(42)  # noqa: S311 - demo data
        await contacts.upload(
            session,
            tenant_id,
            view.campaign.id,
            ContactUpload(
                contacts=[
                    ContactIn(
                        phone=number,
                        first_name=rng.choice(_FIRST_NAMES),
                        last_name=rng.choice(_LAST_NAMES),
                        custom_fields={"account_number": f"ACC-{index:05d}", "policy_type": "comprehensive"},
                    )
                    for index, number in enumerate(demo_numbers())
                ]
            ),
            clock=clock,
        )
        agent_ids = []
        for spec in DEMO_USERS:
            if spec.role is Role.agent:
                match = await users_repository.find_login(session, spec.email)
                if match is not None:
                    agent_ids.append(match[0])
        for index in range(DEMO_FLOOR_AGENTS):
            email = f"floor{index + 1}@{DEMO_DOMAIN}"
            match = await users_repository.find_login(session, email)
            if match is None:
                user = await users.create_user(
                    session,
                    tenant_id,
                    UserCreate(
                        email=email,
                        password=_password(),
                        full_name=f"Floor Agent {index + 1}",
                        role=Role.agent,
                        sip_user=f"agent_{2001 + index}",
                    ),
                    clock=clock,
                )
                agent_ids.append(user.id)
            else:
                agent_ids.append(match[0])
        await campaigns.assign_agents(session, view.campaign.id, CampaignAgentsAssign(agent_ids=agent_ids), clock=clock)
        for agent_id in agent_ids:
            await agents.set_state(
                session, admin, agent_id, AgentStateChange(state=SettableStatus.available), clock=clock
            )
        await campaigns.start_campaign(session, view.campaign.id, clock=clock)
    return True
