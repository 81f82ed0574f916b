"""LocalStore: objects as files under its root, written atomically, removed with their empty folders; keys that
could leave the root refused; URLs signed only by a store that holds a key."""

from __future__ import annotations

import io
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from engage.core.clock import ManualClock
from engage.storage.local import LocalStore
from engage.storage.port import StorageError, StoredObject

from .conftest import PUBLIC_URL

AUDIO = bytes(range(256)) * 4_000  # ~1 MB, not a multiple of the copy chunk


def everything_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


def is_folder(path: Path) -> bool:
    return path.is_dir()


class TestPut:
    async def test_put_file_copies_the_bytes_under_the_key_and_returns_its_size(
        self, store: LocalStore, root: Path, tmp_path: Path
    ) -> None:
        source = tmp_path / "call.wav"
        source.write_bytes(AUDIO)

        stored = await store.put_file("t1/2026/06/call.wav", source, content_type="audio/wav")

        assert stored == StoredObject(key="t1/2026/06/call.wav", size_bytes=len(AUDIO))
        assert (root / "t1" / "2026" / "06" / "call.wav").read_bytes() == AUDIO
        assert source.read_bytes() == AUDIO  # the source is left alone

    async def test_put_stream_reads_the_stream_to_its_end(self, store: LocalStore, root: Path) -> None:
        stored = await store.put_stream("exports/report.csv", io.BytesIO(b"a,b\n1,2\n"), content_type="text/csv")

        assert stored.size_bytes == 8
        assert (root / "exports" / "report.csv").read_bytes() == b"a,b\n1,2\n"

    async def test_a_second_put_replaces_the_object_and_leaves_no_temporary_file(
        self, store: LocalStore, root: Path
    ) -> None:
        await store.put_stream("r/call.wav", io.BytesIO(b"first, longer content"), content_type="audio/wav")

        stored = await store.put_stream("r/call.wav", io.BytesIO(b"second"), content_type="audio/wav")

        assert stored.size_bytes == 6
        assert (root / "r" / "call.wav").read_bytes() == b"second"
        assert sorted(p.name for p in (root / "r").iterdir()) == ["call.wav"]

    async def test_a_put_that_fails_midway_leaves_the_old_object_whole_and_no_temporary_file(
        self, store: LocalStore, root: Path
    ) -> None:
        await store.put_stream("r/call.wav", io.BytesIO(b"old"), content_type="audio/wav")

        class Broken(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
                raise OSError(5, "Input/output error")

        with pytest.raises(StorageError, match=re.escape("put_stream of 'r/call.wav'")):
            await store.put_stream("r/call.wav", Broken(), content_type="audio/wav")  # type: ignore[arg-type]

        assert (root / "r" / "call.wav").read_bytes() == b"old"
        assert sorted(p.name for p in (root / "r").iterdir()) == ["call.wav"]

    async def test_objects_are_readable_by_the_owner_only(self, store: LocalStore, root: Path) -> None:
        await store.put_stream("r/call.wav", io.BytesIO(b"x"), content_type="audio/wav")

        assert (root / "r" / "call.wav").stat().st_mode & 0o777 == 0o600

    async def test_a_missing_source_file_is_a_storage_error_naming_the_key(
        self, store: LocalStore, tmp_path: Path
    ) -> None:
        with pytest.raises(StorageError, match=re.escape("put_file of 'r/call.wav'")):
            await store.put_file("r/call.wav", tmp_path / "nothing.wav", content_type="audio/wav")

    @pytest.mark.parametrize(
        "key",
        [
            "",
            "../escape.wav",
            "a/../../escape.wav",
            "a/./b.wav",
            "/etc/passwd",
            "a//b.wav",
            "a/b/",
            "a\\b.wav",
            "a\x00b.wav",
            ".hidden",
            "a/.put-x.part",
            "-rf",
            "a b.wav",
            "caf\u00e9.wav",
            "a/" + "x" * 256,
            "/".join(["abcdefgh"] * 60),
        ],
    )
    async def test_keys_outside_the_alphabet_or_with_dot_segments_are_refused(
        self, store: LocalStore, root: Path, key: str
    ) -> None:
        with pytest.raises(ValueError, match="invalid object key"):
            await store.put_stream(key, io.BytesIO(b"x"), content_type="audio/wav")

        assert everything_under(root) == []


class TestDelete:
    async def test_delete_removes_the_file_and_the_folders_it_leaves_empty_but_not_the_root(
        self, store: LocalStore, root: Path
    ) -> None:
        await store.put_stream("t1/2026/06/a.wav", io.BytesIO(b"a"), content_type="audio/wav")
        await store.put_stream("t1/2026/07/b.wav", io.BytesIO(b"b"), content_type="audio/wav")

        await store.delete("t1/2026/06/a.wav")

        assert not (root / "t1" / "2026" / "06").exists()
        assert (root / "t1" / "2026" / "07" / "b.wav").exists()

        await store.delete("t1/2026/07/b.wav")

        assert everything_under(root) == []
        assert is_folder(root)

    async def test_deleting_what_is_not_there_is_not_an_error(self, store: LocalStore) -> None:
        await store.delete("never/stored.wav")
        await store.put_stream("r/a.wav", io.BytesIO(b"a"), content_type="audio/wav")
        await store.delete("r")  # a folder is no object

    async def test_delete_refuses_an_invalid_key(self, store: LocalStore) -> None:
        with pytest.raises(ValueError, match="invalid object key"):
            await store.delete("../outside.wav")


class TestPresign:
    async def test_the_url_points_at_the_public_url_with_expiry_and_signature(
        self, store: LocalStore, clock: ManualClock
    ) -> None:
        signed = await store.presign_get("t1/call.wav", expires_in=timedelta(hours=1), now=clock.now())

        parts = urlsplit(signed.url)
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
        assert parts.path == "/files/t1/call.wav"
        query = parse_qs(parts.query)
        assert query["expires"] == [str(int((clock.now() + timedelta(hours=1)).timestamp()))]
        assert len(query["signature"][0]) == 64
        assert "filename" not in query
        assert signed.expires_at == clock.now() + timedelta(hours=1)

    async def test_a_requested_filename_is_carried_and_signed(self, store: LocalStore, clock: ManualClock) -> None:
        signed = await store.presign_get(
            "t1/call.wav", expires_in=timedelta(minutes=5), now=clock.now(), filename="Call 42 \u2013 Dubai.wav"
        )

        assert parse_qs(urlsplit(signed.url).query)["filename"] == ["Call 42 \u2013 Dubai.wav"]

    async def test_a_store_without_a_signing_key_refuses_to_sign(self, root: Path, clock: ManualClock) -> None:
        worker_store = LocalStore(root, public_url=PUBLIC_URL, signing_key=None, clock=clock)

        with pytest.raises(StorageError, match="no URL-signing key"):
            await worker_store.presign_get("t1/call.wav", expires_in=timedelta(hours=1), now=clock.now())

    @pytest.mark.parametrize("expires_in", [timedelta(0), timedelta(seconds=-1), timedelta(days=7, seconds=1)])
    async def test_lifetimes_outside_zero_to_seven_days_are_refused(
        self, store: LocalStore, clock: ManualClock, expires_in: timedelta
    ) -> None:
        with pytest.raises(ValueError, match="expires_in"):
            await store.presign_get("t1/call.wav", expires_in=expires_in, now=clock.now())

    @pytest.mark.parametrize("filename", ["", 'a"b.wav', "a/b.wav", "a\\b.wav", "a\nb.wav", "x" * 256])
    async def test_filenames_that_could_break_a_header_or_name_a_path_are_refused(
        self, store: LocalStore, clock: ManualClock, filename: str
    ) -> None:
        with pytest.raises(ValueError, match="filename"):
            await store.presign_get("t1/call.wav", expires_in=timedelta(hours=1), now=clock.now(), filename=filename)

    async def test_a_naive_now_is_refused(self, store: LocalStore, clock: ManualClock) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.presign_get("t1/call.wav", expires_in=timedelta(hours=1), now=clock.now().replace(tzinfo=None))


class TestRoot:
    async def test_a_symlinked_folder_inside_the_root_that_leads_out_is_not_written_through(
        self, store: LocalStore, root: Path, tmp_path: Path
    ) -> None:
        outside = tmp_path / "outside"
        os.makedirs(outside)
        os.makedirs(root)
        os.symlink(outside, root / "link")

        with pytest.raises(StorageError, match="outside the store's root"):
            await store.put_stream("link/call.wav", io.BytesIO(b"x"), content_type="audio/wav")

        assert everything_under(outside) == []
