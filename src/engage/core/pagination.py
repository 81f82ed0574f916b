"""Cursor pagination shared by every list endpoint.

A page is keyset-ordered on the UUIDv7 `id`, newest first, so it is also reverse-chronological and
stable while rows are inserted. The cursor is opaque to clients: URL-safe base64 of `{"id": "<uuid>"}`,
the last id of the previous page. A garbled cursor or a limit above the endpoint's maximum is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Integer, Select, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from .errors import ProblemError
from .sql import Compiled, Reads


class InvalidCursor(ProblemError):
    status = 400
    slug = "invalid-cursor"
    title = "Invalid cursor"


class InvalidLimit(ProblemError):
    status = 400
    slug = "validation-error"
    title = "Request validation failed"


def encode_cursor(last_id: uuid.UUID) -> str:
    raw = json.dumps({"id": str(last_id)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# A cursor this API issues is 60 characters. Anything much longer is refused before decoding: it bounds
# the work, and a deeply nested JSON payload would otherwise raise RecursionError in `json.loads` (a 500).
MAX_CURSOR_LENGTH = 128
# What `encode_cursor` emits: URL-safe base64 without padding (an empty cursor is no cursor).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"


def decode_cursor(cursor: str) -> uuid.UUID:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("The cursor is not one this API issued; start again without it.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return uuid.UUID(str(data["id"]))
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is not one this API issued; start again without it.") from exc


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    after: uuid.UUID | None


def page_params(*, default: int, maximum: int) -> Callable[..., Awaitable[PageParams]]:
    """A FastAPI dependency reading `limit` and `cursor` with this endpoint's default and maximum."""

    # `limit`'s Query is the default value, not inside `Annotated`: annotations are postponed strings here
    # (`from __future__ import annotations`), and FastAPI resolves them against module globals, where the
    # closure's `default` and `maximum` do not exist; every `?limit=` then failed as a 500.
    async def dependency(
        # The bounds are checked below (the 400 names `limit`); `json_schema_extra` only states them in the document.
        limit: int = Query(
            default,
            description=f"Page size (default {default}, max {maximum})",
            json_schema_extra={"minimum": 1, "maximum": maximum},
            examples=[default],
        ),
        cursor: Annotated[
            str | None,
            Query(
                description="`next_cursor` of the previous page (opaque; only a cursor this API issued is valid)",
                json_schema_extra={"maxLength": MAX_CURSOR_LENGTH, "pattern": CURSOR_PATTERN},
                examples=["eyJpZCI6IjAxOTE5YWZiLWE4YjItN2VjZC04ZTVmLWZmZmZmZmZmZmZmZiJ9"],
            ),
        ] = None,
    ) -> PageParams:
        if limit < 1 or limit > maximum:
            raise InvalidLimit(
                f"limit must be between 1 and {maximum}.",
                extra={"errors": [{"field": "limit", "message": f"must be between 1 and {maximum}"}]},
            )
        return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)

    return dependency


T = TypeVar("T")


R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class PageResult(Generic[R]):
    rows: Sequence[R]
    total: int
    next_cursor: str | None
    has_more: bool

    def map(self, convert: Callable[[R], T]) -> Page[T]:
        return Page[T](
            items=[convert(r) for r in self.rows],
            total=self.total,
            next_cursor=self.next_cursor,
            has_more=self.has_more,
        )


async def paginate(
    session: AsyncSession,
    query: Select[R],
    id_column: InstrumentedAttribute[uuid.UUID],
    params: PageParams,
) -> PageResult[R]:
    """Run `query` (already filtered) as one page plus its total count."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows: list[R] = list((await session.scalars(_one_page(query, id_column, params))).all())
    return _page_of(rows, int(total or 0), params, lambda row: getattr(row, id_column.key))


def _one_page(
    query: Select[Any], id_column: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID], params: PageParams
) -> Select[Any]:
    """Newest first, after the cursor's id, one row more than the page (whether there is a next page)."""
    page_query = query.order_by(id_column.desc()).limit(params.limit + 1)
    return page_query if params.after is None else page_query.where(id_column < params.after)


def _page_of(rows: list[R], total: int, params: PageParams, id_of: Callable[[R], uuid.UUID]) -> PageResult[R]:
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = encode_cursor(id_of(rows[-1])) if has_more and rows else None
    return PageResult(rows=rows, total=total, next_cursor=next_cursor, has_more=has_more)


PAGE_TOTAL = "page_total"


@dataclass(frozen=True, slots=True)
class CompiledPage:
    """A listing compiled once (`core.sql`): its first page, a page after a cursor, and its total alone. Every page
    is newest first, `limit` + 1 rows, with the total of `count_from` riding along (`page_total`)."""

    first: Compiled
    after: Compiled
    count: Compiled

    @classmethod
    def of(
        cls, query: Select[*tuple[Any, ...]], id_column: ColumnElement[uuid.UUID], *, count_from: Select[Any]
    ) -> CompiledPage:
        counted = select(func.count()).select_from(count_from.order_by(None).subquery())
        paged = (
            query.add_columns(counted.scalar_subquery().label(PAGE_TOTAL))
            .order_by(id_column.desc())
            .limit(bindparam("page_limit", type_=Integer))
        )
        return cls(
            first=Compiled(paged),
            after=Compiled(paged.where(id_column < bindparam("page_after", type_=Uuid))),
            count=Compiled(counted),
        )

    async def fetch(self, db: Reads, params: PageParams, **values: Any) -> PageResult[asyncpg.Record]:
        """One page of records (`values` fill the listing's own parameters), in one statement; only a page past
        the end, which has no row to carry the total, costs a second."""
        statement = self.first if params.after is None else self.after
        rows = list(await statement.fetch(db, page_limit=params.limit + 1, page_after=params.after, **values))
        if rows:
            total = int(rows[0][PAGE_TOTAL])
        else:
            total = 0 if params.after is None else int(await self.count.fetchval(db, **values) or 0)
        return _page_of(rows, total, params, lambda row: uuid.UUID(str(row["id"])))
