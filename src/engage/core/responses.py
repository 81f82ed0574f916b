"""Response bodies written straight from models the service built, without FastAPI validating them again.

A route that returns a model has FastAPI validate it against `response_model` and then serialise it: for a read
page that is a second pass over every field of every item, on values the database already typed and the schema's
own constructor already checked. Hot read routes build their models with `model_construct` from typed rows and
return `serialized(model)`; the hottest build the body as plain values from database records and return
`json_body(body)` (UUIDs and instants written as pydantic writes them). Either way the route keeps
`response_model=` so the document still describes the body, and a test holds the body to the model.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_json

from .pagination import PageResult


def serialized(model: BaseModel, *, status_code: int = 200) -> Response:
    """`model` as JSON, exactly as FastAPI would write it (aliases and field serialisers included)."""
    return Response(
        content=model.__pydantic_serializer__.to_json(model), status_code=status_code, media_type="application/json"
    )


def json_body(body: Any, *, status_code: int = 200) -> Response:
    """`body` (dicts, lists, strings, numbers, UUIDs, datetimes) as JSON, written by pydantic's serialiser: the same
    text a model with those values would give."""
    return Response(content=to_json(body), status_code=status_code, media_type="application/json")


def json_page(page: PageResult[str]) -> Response:
    """A `Page` body whose items PostgreSQL already wrote as JSON (`core.sql.json_row`): they are joined as they
    are, in the page's order, compact as `to_json` writes the rest."""
    cursor = "null" if page.next_cursor is None else to_json(page.next_cursor).decode()
    more = "true" if page.has_more else "false"
    body = f'{{"items":[{",".join(page.rows)}],"total":{page.total},"next_cursor":{cursor},"has_more":{more}}}'
    return Response(content=body.encode(), media_type="application/json")
