"""The compliance engine as a route dependency.

The engine (rule book parsed once, fact source, clock, time budget) is built once by the composition root
(`engage.main`) and kept on `app.state`; a route of any domain that needs a decision takes it from here, and a
test hands the app another engine instead of patching this one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .engine import Engine


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.compliance_engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
