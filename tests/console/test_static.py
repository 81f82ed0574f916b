"""The console's files as Engage serves them: the page and its security headers, every module an import names
exists and is served as JavaScript, and every text the views ask for exists in English and in Arabic."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from engage.config import S3Settings, Settings, StorageSettings
from engage.console.api import STATIC_DIR, content_security_policy
from engage.main import _media_origins

JS_DIR = STATIC_DIR / "js"
MODULES = sorted(JS_DIR.rglob("*.js"))
SOURCES = {module: module.read_text() for module in MODULES}
COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)
IMPORT = re.compile(r"""^\s*(?:import|export)\s[^;]*?from\s+"(\.{1,2}/[^"]+)";""", re.MULTILINE | re.DOTALL)
# A dictionary entry: `"wall.title": "Floor wallboard",` (keys are dotted names).
ENTRY = re.compile(r'^\s*"([a-zA-Z][\w.]*)":\s*"', re.MULTILINE)
# A literal key asked for: t("desk.title") or t("desk.since", {...}); keys built at run time are not checked here.
ASKED = re.compile(r"""\bt\(\s*"([a-zA-Z][\w.]*)"\s*[,)]""")


def _dictionaries() -> dict[str, set[str]]:
    """Every key each language defines: the shared dictionaries and each view's `extend({en: {...}, ar: {...}})`."""
    keys = {
        "en": set(ENTRY.findall((JS_DIR / "i18n" / "en.js").read_text())),
        "ar": set(ENTRY.findall((JS_DIR / "i18n" / "ar.js").read_text())),
    }
    for module in MODULES:
        source = module.read_text()
        start = source.find("extend({")
        if start < 0:
            continue
        block = source[start:]
        en_at, ar_at = block.find("en: {"), block.find("ar: {")
        assert 0 <= en_at < ar_at, f"{module.name}: extend() must list en then ar"
        end = block.find("\n});")
        keys["en"] |= set(ENTRY.findall(block[en_at:ar_at]))
        keys["ar"] |= set(ENTRY.findall(block[ar_at:end]))
    return keys


async def test_the_root_sends_a_newcomer_to_the_console(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 307
    assert response.headers["location"] == "/console/"


async def test_the_page_is_served_with_a_policy_that_allows_only_its_own_scripts(client: httpx.AsyncClient) -> None:
    response = await client.get("/console/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/console/static/js/app.js">' in response.text


async def test_the_page_has_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    """The policy would refuse them: everything is a file under /console/static."""
    page = (await client.get("/console/")).text

    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert "<style" not in page
    assert " style=" not in page


async def test_every_file_the_page_names_is_served(client: httpx.AsyncClient) -> None:
    page = (await client.get("/console/")).text
    named = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page)

    assert named
    for path in named:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(JS_DIR)))
async def test_every_import_names_a_module_that_is_served_as_javascript(
    client: httpx.AsyncClient, module: Path
) -> None:
    for relative in IMPORT.findall(SOURCES[module]):
        target = (module.parent / relative).resolve()
        assert target.is_file(), f"{module.name} imports {relative}, which does not exist"
        url = "/console/static/" + target.relative_to(STATIC_DIR.resolve()).as_posix()
        response = await client.get(url)
        assert response.status_code == 200, url
        assert "javascript" in response.headers["content-type"], url


async def test_no_path_outside_the_console_folder_is_served(client: httpx.AsyncClient) -> None:
    for path in ("/console/static/../api.py", "/console/static/%2e%2e/api.py", "/console/static/js/../../api.py"):
        response = await client.get(path)
        assert response.status_code == 404, path


def test_no_view_writes_html_from_text() -> None:
    """Text from the API (a contact's name, a webhook's description) is set as text, never parsed as markup."""
    for module in MODULES:
        source = module.read_text()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert forbidden not in source, f"{module.name} uses {forbidden}"


def test_every_text_a_view_asks_for_exists_in_english_and_in_arabic() -> None:
    keys = _dictionaries()
    asked = {key for source in SOURCES.values() for key in ASKED.findall(COMMENT.sub("", source))}

    assert asked
    assert sorted(asked - keys["en"]) == []
    assert sorted(asked - keys["ar"]) == []


def test_english_and_arabic_define_the_same_texts() -> None:
    keys = _dictionaries()

    assert sorted(keys["en"] - keys["ar"]) == []
    assert sorted(keys["ar"] - keys["en"]) == []


def test_arabic_texts_are_arabic() -> None:
    """A copied English text in the Arabic dictionary would pass the key checks: each Arabic text that has words
    has Arabic ones (a text of placeholders and punctuation alone, such as "{rule}: {count}", has none)."""
    arabic = re.compile(r"[\u0600-\u06ff]")
    shared = (JS_DIR / "i18n" / "ar.js").read_text()
    blocks = [shared[shared.index("export default {") :]]
    for source in SOURCES.values():
        if "extend({" in source:
            start = source.index("ar: {")
            blocks.append(source[start : source.index("\n});", start)])
    for block in blocks:
        for key, text in re.findall(r'^\s*"([a-zA-Z][\w.]*)":\s*"([^"]*)"', block, re.MULTILINE):
            words = re.sub(r"\{\w+\}", "", text)
            assert arabic.search(text) or not re.search("[A-Za-z]", words), f"{key}: {text!r} has no Arabic"


def test_recordings_may_play_from_where_the_store_serves_them(settings: Settings) -> None:
    local = settings.model_copy(update={"public_url": "https://engage.example.com"})
    s3 = settings.model_copy(
        update={
            "storage": StorageSettings(url="s3://calls"),
            "s3": S3Settings(endpoint="http://minio:9000", public_endpoint="https://media.example.com/x"),
        }
    )
    aws = settings.model_copy(update={"storage": StorageSettings(url="s3://calls")})

    assert "media-src 'self' blob: https://engage.example.com;" in content_security_policy(_media_origins(local))
    assert "https://media.example.com;" in content_security_policy(_media_origins(s3))
    assert "minio" not in content_security_policy(_media_origins(s3))
    assert "https://*.amazonaws.com" in content_security_policy(_media_origins(aws))
