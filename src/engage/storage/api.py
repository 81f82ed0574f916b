"""`GET /files/<key>` (and HEAD): the local store's objects, to whoever holds a URL it signed.

No JWT: the signature is the credential (a browser's audio player fetches the URL as it is). The route only
parses the query and hands it to `LocalStore.open_signed`, which verifies the signature in constant time and
finds the file; the file goes out with Starlette's `FileResponse`, so Range requests work and a player can
seek. When the app's store is not a `LocalStore` (S3 serves its own URLs) the path does not exist: 404.
Not part of the client API, so not in the OpenAPI document.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams
from starlette.responses import FileResponse

from .errors import FileNotFound, FileUrlInvalid
from .local import LocalStore
from .names import content_disposition
from .signing import FILES_PATH

router = APIRouter()


def _one(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        # Which of two would we verify, and which would a cache or proxy use? Neither: refuse.
        raise FileUrlInvalid(f"The URL carries {name} more than once.")
    return values[0] if values else None


@router.api_route(FILES_PATH + "{key:path}", methods=["GET", "HEAD"], include_in_schema=False)
async def get_file(request: Request, key: str) -> FileResponse:
    store = getattr(request.app.state, "store", None)
    if not isinstance(store, LocalStore):
        raise FileNotFound("Files are not served here: the object store signs its own URLs.")
    params = request.query_params
    served = await store.open_signed(
        key, expires=_one(params, "expires"), signature=_one(params, "signature"), filename=_one(params, "filename")
    )
    return FileResponse(
        served.path,
        stat_result=served.stat,
        media_type=served.media_type,
        headers={
            **({"Content-Disposition": content_disposition(served.filename)} if served.filename else {}),
            "Cache-Control": f"private, max-age={served.max_age_seconds}",
            # The type is ours (from the key's extension); a browser must not guess another, such as HTML.
            "X-Content-Type-Options": "nosniff",
            # Opened directly in a tab, a file runs no script and loads nothing, whatever it contains.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
