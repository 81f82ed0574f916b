"""Synthetic Gulf contact lists (Arabic and Latin names, UAE and KSA mobiles) and a scratch tenant to load them
into with `COPY`.

Bulk loads run as the database owner: PostgreSQL refuses `COPY FROM` into a table with row-level security for
the app role, and the owner is not subject to it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from random import Random
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.bench.common import UNLIMITED
from engage.campaigns.models import Campaign
from engage.cli_groups.models import CliGroup
from engage.config import Settings
from engage.core.clock import Clock, SystemClock
from engage.core.db import asyncpg_url, create_engine, session_factory, tenant_transaction, unscoped_transaction
from engage.core.ids import new_id
from engage.main import database_url
from engage.migrate import migrate
from engage.tenancy import service as tenancy

# Names as they appear in Gulf contact lists: Latin transliterations, and Arabic written with the variants
# people type (hamza forms, ta marbuta, alef maqsura, the odd tashkeel), so search has to normalise.
LATIN_FIRST = [
    "Ahmad",
    "Ahmed",
    "Mohammed",
    "Muhammad",
    "Omar",
    "Khalid",
    "Youssef",
    "Ali",
    "Hassan",
    "Hussein",
    "Ibrahim",
    "Abdullah",
    "Rashid",
    "Saeed",
    "Faisal",
    "Hamdan",
    "Sultan",
    "Majid",
    "Tariq",
    "Karim",
    "Sara",
    "Fatima",
    "Aisha",
    "Mariam",
    "Layla",
    "Noura",
    "Huda",
    "Reem",
    "Salma",
    "Dana",
    "Hala",
    "Rania",
    "Yasmin",
    "Priya",
    "Rahul",
    "Arjun",
    "Anita",
    "John",
    "Maria",
    "José",
    "Chloé",
    "Zoë",
    "Andrés",
    "Hélène",
    "Renée",
    "Björn",
    "Nicolás",
]
LATIN_LAST = [
    "Al Rashid",
    "Al Mansoori",
    "Al Nuaimi",
    "Al Hashimi",
    "Al Ketbi",
    "Al Mheiri",
    "Al Shamsi",
    "Al Qahtani",
    "Al Harbi",
    "Al Ghamdi",
    "Al Zahrani",
    "Al Otaibi",
    "Haddad",
    "Khalil",
    "Nasser",
    "Hassan",
    "Saleh",
    "Farouk",
    "Aziz",
    "Darwish",
    "Karam",
    "Mansour",
    "Sabbagh",
    "Khoury",
    "Nair",
    "Menon",
    "Sharma",
    "Pillai",
    "Fernandes",
    "D'Souza",
    "Smith",
    "García",
    "Müller",
    "Peña",
    "Ibáñez",
    "Côté",
    "Ødegaard",
]
ARABIC_FIRST = [
    "أحمد",
    "احمد",
    "إبراهيم",
    "ابراهيم",
    "محمد",
    "مُحَمَّد",
    "عمر",
    "خالد",
    "يوسف",
    "علي",
    "حسن",
    "حسين",
    "عبدالله",
    "راشد",
    "سعيد",
    "فيصل",
    "حمدان",
    "سلطان",
    "ماجد",
    "طارق",
    "كريم",
    "أسامة",
    "اسامه",
    "إسماعيل",
    "سارة",
    "ساره",
    "فاطمة",
    "فاطمه",
    "عائشة",
    "مريم",
    "ليلى",
    "ليلي",
    "نورة",
    "نوره",
    "هدى",
    "ريم",
    "سلمى",
    "دانة",
    "هالة",
    "رانيا",
    "ياسمين",
    "أمل",
    "آمنة",
    "منى",
]
ARABIC_LAST = [
    "الراشد",
    "المنصوري",
    "النعيمي",
    "الهاشمي",
    "الكعبي",
    "المهيري",
    "الشامسي",
    "القحطاني",
    "الحربي",
    "الغامدي",
    "الزهراني",
    "العتيبي",
    "حداد",
    "خليل",
    "ناصر",
    "حسن",
    "صالح",
    "فاروق",
    "عزيز",
    "درويش",
    "كرم",
    "منصور",
    "الصباغ",
    "الخوري",
    "الأحمد",
    "الإبراهيم",
    "مدرسة",
    "الظاهري",
    "السويدي",
    "المطيري",
    "الدوسري",
]
_FIELD_VALUES = ("comprehensive", "third-party", "gold", "silver", "renewal", "new", "Dubai", "Riyadh", "Jeddah")


@dataclass(frozen=True, slots=True)
class Person:
    phone: str  # E.164
    first_name: str
    last_name: str
    custom_fields: dict[str, str]


# Mobile prefixes that phonenumbers accepts as valid: UAE (+971 5x) and KSA (+966 5x), each followed by 7 digits.
_MOBILE_PREFIXES = (
    "+97150",
    "+97152",
    "+97154",
    "+97155",
    "+97156",
    "+97158",
    "+96650",
    "+96653",
    "+96654",
    "+96655",
    "+96656",
    "+96659",
)
_SERIALS = range(len(_MOBILE_PREFIXES) * 10_000_000)


def mobile_number(serial: int) -> str:
    prefix, rest = divmod(serial, 10_000_000)
    return f"{_MOBILE_PREFIXES[prefix]}{rest:07d}"


def make_people(rng: Random, count: int) -> list[Person]:
    """`count` contacts with distinct, valid UAE and KSA mobile numbers, names half Arabic and half Latin, and
    two custom fields."""
    people: list[Person] = []
    for serial in rng.sample(_SERIALS, count):
        arabic = rng.random() < 0.5
        first = rng.choice(ARABIC_FIRST if arabic else LATIN_FIRST)
        last = rng.choice(ARABIC_LAST if arabic else LATIN_LAST)
        fields = {"account_number": f"ACC-{serial % 1_000_000:06d}", "policy_type": rng.choice(_FIELD_VALUES)}
        people.append(Person(mobile_number(serial), first, last, fields))
    return people


# The columns a raw COPY writes; its trigger writes the contacts' search terms, as on every insert.
_COPY_COLUMNS = (
    "id",
    "tenant_id",
    "campaign_id",
    "phone",
    "first_name",
    "last_name",
    "custom_fields",
    "status",
    "attempts",
    "created_at",
)


def contact_records(
    people: Sequence[Person], tenant_id: uuid.UUID, campaign_id: uuid.UUID, now: datetime
) -> list[tuple[Any, ...]]:
    return [
        (
            new_id(),
            tenant_id,
            campaign_id,
            p.phone,
            p.first_name,
            p.last_name,
            json.dumps(p.custom_fields),
            "pending",
            0,
            now,
        )
        for p in people
    ]


async def copy_contacts(owner: asyncpg.Connection, records: list[tuple[Any, ...]]) -> float:
    """Milliseconds to COPY `records` into contacts, in a transaction of its own."""
    started = time.perf_counter()
    async with owner.transaction():
        await owner.copy_records_to_table("contacts", records=records, columns=_COPY_COLUMNS)
    return (time.perf_counter() - started) * 1000


async def vacuum_contacts(owner: asyncpg.Connection) -> None:
    """What autovacuum would do after a bulk load: the visibility map that lets search read its terms from the
    index alone, and fresh statistics."""
    await owner.execute("VACUUM ANALYZE contacts, contact_terms")


@dataclass(frozen=True, slots=True)
class BenchDb:
    sessions: async_sessionmaker[AsyncSession]
    owner: asyncpg.Connection
    clock: Clock
    database_url: str


@asynccontextmanager
async def bench_db(settings: Settings) -> AsyncIterator[BenchDb]:
    """The app's sessions (role engage_app, under RLS) and one owner connection for bulk loads."""
    async with database_url(settings, stop_embedded=False) as url:
        await migrate(url)
        engine = create_engine(url, pool_size=2, statement_timeout_ms=600_000)
        owner = await asyncpg.connect(
            asyncpg_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            yield BenchDb(session_factory(engine), owner, SystemClock(), url)
        finally:
            await owner.close()
            await engine.dispose()


async def bench_tenant(db: BenchDb, campaigns: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A tenant in AE with a CLI group and `campaigns` draft campaigns, inserted with the ORM (the CLI-group and
    campaign services belong to other domains and are not what is measured)."""
    now = db.clock.now()
    async with unscoped_transaction(db.sessions) as session:
        tenant = await tenancy.create(
            session, name="bench", timezone="Asia/Dubai", country="AE", rate_limit_per_minute=UNLIMITED, clock=db.clock
        )
    async with tenant_transaction(db.sessions, tenant.id) as session:
        group = CliGroup(id=new_id(), tenant_id=tenant.id, name="bench", created_at=now)
        session.add(group)
        await session.flush()
        ids = []
        for n in range(campaigns):
            campaign = Campaign(
                id=new_id(),
                tenant_id=tenant.id,
                name=f"Bench campaign {n + 1}",
                status="draft",
                dialing_mode="progressive",
                cli_group_id=group.id,
                max_attempts=3,
                retry_delay_minutes=60,
                dial_ratio=Decimal("1.5"),
                timezone="Asia/Dubai",
                wrap_up_seconds=15,
                abandon_rate_target=Decimal("3.0"),
                created_at=now,
                updated_at=now,
            )
            session.add(campaign)
            ids.append(campaign.id)
        await session.flush()
    return tenant.id, ids


async def drop_bench_tenant_contacts(db: BenchDb, tenant_id: uuid.UUID) -> None:
    """Leave the database as found (bar the small tenant rows): the search index is shared by every tenant. The
    terms go first, in one range of their index; the trigger that would remove them then finds none."""
    await db.owner.execute("DELETE FROM contact_terms WHERE tenant_id = $1", tenant_id)
    await db.owner.execute("DELETE FROM contacts WHERE tenant_id = $1", tenant_id)
