"""Response bodies written straight from models the service built, without FastAPI validating them again.

A route that returns a model has FastAPI validate it against `response_model` and then serialise it: for a read
page that is a second pass over every field of every item, on values the database already typed and the schema's
own constructor already checked. Hot read routes build their models with `model_construct` from typed rows and
return `serialized(model)`; the route keeps `response_model=` so the document still describes the body.
"""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import BaseModel


def serialized(model: BaseModel, *, status_code: int = 200) -> Response:
    """`model` as JSON, exactly as FastAPI would write it (aliases and field serialisers included)."""
    return Response(
        content=model.__pydantic_serializer__.to_json(model), status_code=status_code, media_type="application/json"
    )
