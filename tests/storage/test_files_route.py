"""GET /files/<key>: the local store's objects to whoever holds a URL it signed, as they are (Range works), and to
nobody else: a URL changed in any part, expired or aimed outside the root is a 403 or 404 problem, never a byte
of another file."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.storage import signing
from engage.storage.local import LocalStore

from ..problems import assert_problem
from .conftest import PUBLIC_URL, files_app

AUDIO = bytes(range(256)) * 1_000
SECRET = b"root:x:0:0:secret beside the store's root\n"


def with_query(url: str, **changes: str | None) -> str:
    """`url` with query parameters replaced (a value) or removed (None); the others keep their order."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


@pytest.fixture
async def stored(store: LocalStore) -> str:
    key = "t1/2026/06/call.wav"
    await store.put_stream(key, io.BytesIO(AUDIO), content_type="audio/wav")
    return key


async def signed_url(store: LocalStore, clock: ManualClock, key: str, **kwargs: object) -> str:
    signed = await store.presign_get(key, expires_in=timedelta(hours=1), now=clock.now(), **kwargs)  # type: ignore[arg-type]
    return signed.url


class TestServing:
    async def test_a_signed_url_returns_the_exact_bytes_with_type_cache_and_nosniff_headers(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        response = await files.get(await signed_url(store, clock, stored))

        assert response.status_code == 200
        assert response.content == AUDIO
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers["content-length"] == str(len(AUDIO))
        assert response.headers["cache-control"] == "private, max-age=3600"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["accept-ranges"] == "bytes"
        assert "content-disposition" not in response.headers

    async def test_the_cache_lifetime_never_outlasts_the_url(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        url = await signed_url(store, clock, stored)
        clock.advance(3_000)

        response = await files.get(url)

        assert response.headers["cache-control"] == "private, max-age=600"

    async def test_a_range_request_gets_206_and_exactly_that_slice(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        response = await files.get(await signed_url(store, clock, stored), headers={"Range": "bytes=1000-1999"})

        assert response.status_code == 206
        assert response.content == AUDIO[1000:2000]
        assert response.headers["content-range"] == f"bytes 1000-1999/{len(AUDIO)}"

    async def test_head_answers_the_headers_without_the_body(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        response = await files.head(await signed_url(store, clock, stored))

        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-length"] == str(len(AUDIO))

    async def test_a_signed_filename_becomes_an_attachment_name(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        url = await signed_url(store, clock, stored, filename="Call 42 \u2013 Dubai.wav")

        response = await files.get(url)

        assert response.status_code == 200
        assert response.headers["content-disposition"] == (
            "attachment; filename=\"Call 42 _ Dubai.wav\"; filename*=UTF-8''Call%2042%20%E2%80%93%20Dubai.wav"
        )

    @pytest.mark.parametrize(
        ("key", "media_type"),
        [
            ("a/b.mp3", "audio/mpeg"),
            ("a/b.pdf", "application/pdf"),
            ("a/b.csv", "text/csv; charset=utf-8"),
            ("a/b.html", "application/octet-stream"),
            ("a/noextension", "application/octet-stream"),
        ],
    )
    async def test_the_type_follows_the_extension_and_anything_unknown_is_opaque(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, key: str, media_type: str
    ) -> None:
        await store.put_stream(key, io.BytesIO(b"<script>alert(1)</script>"), content_type="text/html")

        response = await files.get(await signed_url(store, clock, key))

        assert response.headers["content-type"] == media_type

    async def test_the_route_is_not_in_the_openapi_document(self, store: LocalStore) -> None:
        assert not any(path.startswith("/files") for path in files_app(store).openapi()["paths"])


class TestRefusals:
    @pytest.mark.parametrize(
        "tamper",
        [
            pytest.param(lambda url: with_query(url, signature="0" * 64), id="other-signature"),
            pytest.param(lambda url: with_query(url, signature="zz"), id="garbled-signature"),
            pytest.param(lambda url: with_query(url, signature=None), id="no-signature"),
            pytest.param(lambda url: with_query(url, expires=None), id="no-expiry"),
            pytest.param(lambda url: with_query(url, expires="99999999999"), id="later-expiry"),
            pytest.param(lambda url: with_query(url, expires="1e10"), id="garbled-expiry"),
            pytest.param(lambda url: with_query(url, filename="evil.html"), id="added-filename"),
            pytest.param(lambda url: with_query(url, filename=""), id="empty-filename"),
            pytest.param(lambda url: url + "&signature=" + "0" * 64, id="second-signature"),
            pytest.param(lambda url: with_path(url, "/files/t1/2026/06/other.wav"), id="other-key"),
            pytest.param(lambda url: with_path(url, "/files/T1/2026/06/call.wav"), id="key-case"),
        ],
    )
    async def test_a_url_changed_in_any_part_is_403(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str, tamper: object
    ) -> None:
        await store.put_stream("t1/2026/06/other.wav", io.BytesIO(b"other"), content_type="audio/wav")
        url = await signed_url(store, clock, stored)

        response = await files.get(tamper(url))  # type: ignore[operator]

        assert_problem(response, 403, "file-url-invalid")

    async def test_a_changed_filename_is_403(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        url = await signed_url(store, clock, stored, filename="call.wav")

        for changed in (with_query(url, filename="call.exe"), with_query(url, filename=None)):
            assert_problem(await files.get(changed), 403, "file-url-invalid")

    async def test_a_url_signed_with_another_key_is_403(
        self, files: httpx.AsyncClient, root: Path, clock: ManualClock, stored: str
    ) -> None:
        other = LocalStore(root, public_url=PUBLIC_URL, signing_key=os.urandom(32), clock=clock)

        response = await files.get(await signed_url(other, clock, stored))

        assert_problem(response, 403, "file-url-invalid")

    async def test_an_expired_url_is_403_expired(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        signed = await store.presign_get(stored, expires_in=timedelta(hours=1), now=clock.now() - timedelta(hours=2))

        response = await files.get(signed.url)

        assert_problem(response, 403, "file-url-expired")

    async def test_a_url_stops_working_the_second_it_expires(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        url = await signed_url(store, clock, stored)
        clock.advance(3_599)
        assert (await files.get(url)).status_code == 200

        clock.advance(1)

        assert_problem(await files.get(url), 403, "file-url-expired")

    async def test_a_validly_signed_url_for_an_object_not_there_is_404(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock
    ) -> None:
        response = await files.get(await signed_url(store, clock, "t1/never-stored.wav"))

        assert_problem(response, 404, "file-not-found")

    async def test_a_folder_is_never_listed(
        self, files: httpx.AsyncClient, store: LocalStore, clock: ManualClock, stored: str
    ) -> None:
        response = await files.get(await signed_url(store, clock, "t1/2026"))

        body = assert_problem(response, 404, "file-not-found")
        assert "call.wav" not in response.text
        assert "call.wav" not in str(body)

    async def test_without_a_local_store_the_route_is_404(self, clock: ManualClock) -> None:
        transport = httpx.ASGITransport(app=files_app(store=object()))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            response = await client.get("/files/t1/call.wav?expires=1&signature=" + "0" * 64)

        assert_problem(response, 404, "file-not-found")


class TestTraversal:
    """The secret lies beside the root; each attempt carries a signature made with the store's own key for
    the path it names, as a leaked key or a signing bug would give an attacker, and still gets nothing."""

    @pytest.fixture
    def secret(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        path = root.parent / "secret.txt"
        path.write_bytes(SECRET)
        return path

    @pytest.mark.parametrize(
        ("raw_path", "key"),
        [
            ("/files/%2e%2e/secret.txt", "../secret.txt"),
            ("/files/%2E%2E/secret.txt", "../secret.txt"),
            ("/files/..%2fsecret.txt", "../secret.txt"),
            ("/files/a/%2e%2e/%2e%2e/secret.txt", "a/../../secret.txt"),
            ("/files/..%5csecret.txt", "..\\secret.txt"),
            ("/files//etc/passwd", "/etc/passwd"),
            ("/files/%2Fetc%2Fpasswd", "/etc/passwd"),
            ("/files/secret.txt%00.wav", "secret.txt\x00.wav"),
            ("/files/%2e", "."),
            ("/files/", ""),
        ],
    )
    async def test_paths_that_leave_the_root_get_a_problem_and_no_byte_of_the_secret(
        self, files: httpx.AsyncClient, signing_key: bytes, clock: ManualClock, secret: Path, raw_path: str, key: str
    ) -> None:
        expires = int(clock.now().timestamp()) + 3600
        signature = signing.sign(signing_key, key, expires, None)
        response = await files.get(
            httpx.URL(PUBLIC_URL + raw_path, params={"expires": expires, "signature": signature})
        )

        # Answered by the file route itself (not a router miss), which refuses the key whatever its signature.
        assert_problem(response, 403, "file-url-invalid")
        assert SECRET not in response.content
        assert b"secret beside" not in response.content

    async def test_a_symlink_inside_the_root_to_a_file_outside_is_not_followed(
        self, files: httpx.AsyncClient, store: LocalStore, root: Path, clock: ManualClock, secret: Path
    ) -> None:
        os.symlink(secret, root / "link.wav")

        response = await files.get(await signed_url(store, clock, "link.wav"))

        assert_problem(response, 404, "file-not-found")
        assert SECRET not in response.content
