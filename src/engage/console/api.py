"""Routes: GET / (to the console), GET /console/ (the page) and the static files under /console/static/.

The page is one HTML document; the JavaScript modules under `static/js` draw every view. Its Content-Security-Policy
allows scripts, styles and connections to this origin only, so text from the API (a contact's name, a webhook's
description) can never run as script even if a view mishandled it; recordings play from wherever the object store
serves them, so `media-src` also names that origin.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(media_origins: list[str]) -> str:
    media = " ".join(["'self'", "blob:", *dict.fromkeys(media_origins)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"media-src {media}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def page_headers(media_origins: list[str]) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(media_origins),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # The page names the current script files; a stale copy would load old modules against a new API.
        "Cache-Control": "no-cache",
    }


class ConsoleFiles(StaticFiles):
    """The console's scripts, styles and images, revalidated on every load (ETag: unchanged files cost a 304)."""

    async def get_response(self, path: str, scope: Scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def build_router(media_origins: list[str]) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    headers = page_headers(media_origins)

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @router.get("/console")
    async def console_bare() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @router.get("/console/")
    async def console() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=headers)

    return router


def static_files() -> ConsoleFiles:
    return ConsoleFiles(directory=STATIC_DIR)
