"""Read statements compiled once and run by asyncpg on the request's own connection.

A hot read page built with SQLAlchemy per request pays for the building (coercions, cache keys) and for the
result layer (`Row` objects, type processors) on every call: `engage bench api` measured both above the cost of
the query itself. `Compiled` renders a Core statement to SQL once, at import or on first use, with named
`bindparam`s for what varies per request; `fetch` sends it through asyncpg (which prepares and caches it per
connection) on the connection of the request's tenant-scoped transaction (a session's, or a read-only one's
from `core.db.tenant_reads`), so row-level security applies as to any statement. Rows come back as asyncpg
records: the caller maps them to a response body.

Only for reads: a statement sent this way does not see changes the session has not flushed, and the ORM does
not see its rows. Values are passed as asyncpg takes them (no SQLAlchemy bind processors run): UUIDs, strings,
numbers, aware datetimes; no expanding `IN` (use `= ANY(:values)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar, cast

import asyncpg
from sqlalchemy import ColumnElement, DateTime, Table, Text, Uuid, any_, literal, literal_column, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = PGDialect_asyncpg(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
_DRIVER = "engage.driver"

T = TypeVar("T")

Reads: TypeAlias = AsyncSession | asyncpg.Connection
"""Where a compiled read runs: the request's session (on its transaction's connection) or the connection of a
read-only transaction (`core.db.tenant_reads`)."""


class Compiled:
    """`statement` as asyncpg runs it: its SQL, its parameters in order and the values the statement fixed.
    Compiled on first use (so a module can declare its statements before every table is mapped)."""

    __slots__ = ("_defaults", "_names", "_required", "_sql", "_statement")

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._sql: str | None = None
        self._names: tuple[str, ...] = ()
        self._defaults: dict[str, Any] = {}
        self._required: frozenset[str] = frozenset()

    @property
    def sql(self) -> str:
        if self._sql is None:
            compiled = cast(SQLCompiler, self._statement.compile(dialect=_DIALECT))
            self._names = tuple(compiled.positiontup or ())
            self._defaults = dict(compiled.params)
            self._required = frozenset(name for name, bind in compiled.binds.items() if bind.required)
            self._sql = compiled.string
        return self._sql

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The statement's parameters in order: from `values` by name, else the value the statement fixed."""
        self.sql  # noqa: B018 - compiles on first use
        missing = self._required.difference(values)
        if missing:
            raise KeyError(f"no value for the parameter(s) {', '.join(sorted(missing))}")
        return [values[name] if name in values else self._defaults[name] for name in self._names]

    async def fetch(self, db: Reads, **values: Any) -> Sequence[asyncpg.Record]:
        connection = await connection_of(db)
        arguments = self.arguments(values)
        rows: list[asyncpg.Record] = await connection.fetch(self.sql, *arguments)
        return rows

    async def fetchrow(self, db: Reads, **values: Any) -> asyncpg.Record | None:
        connection = await connection_of(db)
        arguments = self.arguments(values)
        row: asyncpg.Record | None = await connection.fetchrow(self.sql, *arguments)
        return row

    async def fetchval(self, db: Reads, **values: Any) -> Any:
        connection = await connection_of(db)
        arguments = self.arguments(values)
        return await connection.fetchval(self.sql, *arguments)


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """One value another domain contributes to a statement it does not own: a scalar subquery over the
    statement's named parameters (aggregated to one value: an array, a record array), and how to read that
    value in Python. The domain keeps its SQL; the caller gathers every fact it needs in one round trip."""

    column: ColumnElement[Any]
    read: Callable[[Any], T]


class FactQuery:
    """Named `Fact`s selected side by side as one statement, compiled once: `gather` sends it (one round trip,
    in the caller's tenant scope) and reads each fact by its name."""

    __slots__ = ("_facts", "_statement")

    def __init__(self, **facts: Fact[Any]) -> None:
        self._facts = facts
        self._statement = Compiled(select(*(fact.column.label(name) for name, fact in facts.items())))

    async def gather(self, db: Reads, **values: Any) -> dict[str, Any]:
        row = await self._statement.fetchrow(db, **values)
        if row is None:  # a SELECT without FROM returns exactly one row
            raise RuntimeError("a statement of scalar subqueries returned no row")
        return {name: fact.read(row[name]) for name, fact in self._facts.items()}


def grouped(make: Callable[..., T]) -> Callable[[Sequence[Sequence[Any]] | None], dict[Any, list[T]]]:
    """Reads an aggregated record array whose first field is a key: per key, in the array's order, `make` of each
    record's other fields (NULL: no row matched, an empty dict)."""

    def read(value: Sequence[Sequence[Any]] | None) -> dict[Any, list[T]]:
        found: dict[Any, list[T]] = {}
        for key, *fields in value or ():
            found.setdefault(key, []).append(make(*fields))
        return found

    return read


def strings(value: Sequence[str] | None) -> set[str]:
    """An aggregated `array_agg` of text as a set (NULL: no row matched)."""
    return set(value) if value is not None else set()


def for_body(*columns: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """`columns` to select for a response body: each UUID column cast to text under its own name. asyncpg's UUID
    objects cost pydantic's serialiser ten times what a string does (a page of 50 calls: 2.3 ms against 0.2 ms),
    and the body writes them as strings anyway."""
    return [sql_cast(column, Text).label(column.key) if isinstance(column.type, Uuid) else column for column in columns]


# An instant as pydantic writes it: UTC, `Z`, the microseconds only when there are any.
_JSON_INSTANT = "replace(to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '.000000Z', 'Z')"


def json_row(table: Table, names: Iterable[str]) -> ColumnElement[str]:
    """One row's JSON body built by PostgreSQL, as text: an object of `table`'s columns `names`, in that order,
    compact and written as pydantic writes the same values (instants as above), so a page's
    body is its rows joined, with no record decoded into Python values and no serialiser pass. For a listing
    whose Python cost per row is most of the request's (`GET /v1/calls`).

    `row_to_json` of a derived row, not `json_build_object`, whose output puts spaces around every `:`."""
    fields = []
    for name in names:
        column = table.c[name]
        reference = f"{table.name}.{column.name}"
        # `row_to_json` writes a UUID as its string already; only instants need pydantic's form.
        value = _JSON_INSTANT.format(reference) if isinstance(column.type, DateTime) else reference
        fields.append(f'{value} AS "{column.name}"')
    # Only the table's own names go into the text: no value does.
    listed = ", ".join(fields)
    return literal_column(f"(SELECT row_to_json(json_row)::text FROM (SELECT {listed}) AS json_row)")  # noqa: S608


async def connection_of(db: Reads) -> asyncpg.Connection:
    """The asyncpg connection of the transaction `db` is (a direct connection) or runs on (a session)."""
    return await driver_of(db) if isinstance(db, AsyncSession) else db


def remember_driver(session: AsyncSession, connection: asyncpg.Connection) -> None:
    """Record the asyncpg connection of the session's transaction (`tenant_transaction` does)."""
    session.info[_DRIVER] = connection


async def driver_of(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection the session's transaction runs on (begun on first use, as any statement would).

    Only `tenant_transaction` remembers it, for a session that lives exactly one transaction. Any other session
    is asked each time: after a commit it may run its next transaction on another pooled connection, and a
    remembered one could by then serve another request, in another tenant's scope."""
    connection: asyncpg.Connection | None = session.info.get(_DRIVER)
    if connection is None:
        bound = await session.connection()
        # SQLAlchemy's asyncpg adapter opens its transaction with its first statement: run one, so what is sent
        # on the driver below runs inside the session's transaction (its tenant scope, its savepoints).
        await bound.execute(select(literal(1)))
        raw = await bound.get_raw_connection()
        connection = raw.driver_connection
        if connection is None:
            raise RuntimeError("the session's connection has no asyncpg connection")
    return connection


def among(column: ColumnElement[T] | QueryableAttribute[T], values: Iterable[T]) -> ColumnElement[bool]:
    """`column = ANY(:values)`, the values bound as one array: the same SQL text whatever their number.

    An expanding `IN` renders one text per number of values, and asyncpg prepares each text anew and keeps it on
    every pooled connection (and PostgreSQL a plan in every backend). A worker asking "which of these live calls
    has a hang-up request" each tick, for a number of calls that changes every tick, grew by megabytes a minute
    in `engage bench soak`. Use this for every list whose length varies at run time; constant lists may stay
    `IN`."""
    element = column.__clause_element__() if isinstance(column, QueryableAttribute) else column
    return element == any_(literal(list(values), ARRAY(element.type)))
