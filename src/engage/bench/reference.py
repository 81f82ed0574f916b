"""The thin reference endpoint `engage bench api` measures Engage against (issue 12): not part of the product.

`GET /reference/campaigns?limit=20` does what a hand-written endpoint would: verify the JWT, take a pooled asyncpg
connection running as the app role (so row-level security applies), open a transaction, scope it to the token's
tenant, run one query for the page, and write JSON. No framework dependencies, no ORM, no validation of the
output. Run in a process of its own: `python -m engage.bench.reference PORT DATABASE_URL JWT_SECRET CLOCK_START`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import jwt
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import Response

from engage.core.db import APP_ROLE, asyncpg_url

_PAGE = """
SELECT id, name, status, dialing_mode, cli_group_id, max_attempts, retry_delay_minutes, dial_ratio, timezone,
       created_at, updated_at
FROM campaigns
ORDER BY created_at DESC, id DESC
LIMIT $1
"""


def reference_app(database_url: str, secret: str, leeway_seconds: float) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dsn = asyncpg_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        app.state.pool = await asyncpg.create_pool(
            dsn, min_size=4, max_size=10, server_settings={"role": APP_ROLE, "timezone": "UTC"}
        )
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None)

    @app.get("/reference/campaigns")
    async def campaigns(
        request: Request, authorization: str = Header(), limit: int = Query(20, ge=1, le=200)
    ) -> Response:
        try:
            claims = jwt.decode(
                authorization.removeprefix("Bearer "), secret, algorithms=["HS256"], leeway=leeway_seconds
            )
        except jwt.InvalidTokenError as exc:
            raise HTTPException(401) from exc
        async with request.app.state.pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", claims["tenant_id"])
            rows = await connection.fetch(_PAGE, limit + 1)
        items: list[dict[str, Any]] = [dict(row) for row in rows[:limit]]
        body = {"items": items, "next_cursor": None, "has_more": len(rows) > limit}
        return Response(json.dumps(body, default=str), media_type="application/json")

    return app


if __name__ == "__main__":
    port, url, key, clock_start = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    # Engage's clock is set back to `clock_start` (ENGAGE_SIM_CLOCK_START), so its tokens expire on that clock.
    leeway = max(0.0, time.time() - datetime.fromisoformat(clock_start).timestamp())
    uvicorn.run(reference_app(url, key, leeway), host="127.0.0.1", port=port, log_level="warning", access_log=False)
