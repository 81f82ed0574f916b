"""S3Store against a real S3 protocol server (moto in its own process): uploads land whole (in parts above the
threshold), under the URL's prefix, encrypted when asked; presigned URLs fetch the object, and are valid SigV4
by an independent verifier that a changed URL fails; every SDK failure is a StorageError naming the operation
and key, never a credential."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from engage.storage.port import StorageError, StoredObject
from engage.storage.s3 import S3Store

from ..s3 import SECRET_KEY, s3_settings
from .conftest import S3StoreFor
from .sigv4 import verify

MIB = 1024 * 1024
NOW = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)


def payload(size: int) -> bytes:
    # Not a repeating pattern a part boundary could hide a misplaced chunk in.
    return os.urandom(size)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class _OneWayStream(io.RawIOBase):
    """A readable stream that cannot seek or tell: what a pipe or an HTTP body gives."""

    def __init__(self, data: bytes) -> None:
        self._source = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._source.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class TestPut:
    async def test_put_file_stores_the_bytes_with_their_type_and_returns_the_size(
        self, s3_store_for: S3StoreFor, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        data = payload(300_000)
        store = s3_store_for()

        stored = await store.put_file("t1/call.wav", write(tmp_path / "call.wav", data), content_type="audio/wav")

        assert stored == StoredObject(key="t1/call.wav", size_bytes=len(data))
        got = s3.get_object(Bucket=bucket, Key="t1/call.wav")
        assert got["Body"].read() == data
        assert got["ContentType"] == "audio/wav"
        assert "-" not in got["ETag"]  # one PUT, below the threshold

    async def test_a_file_above_the_threshold_goes_up_in_parts_and_arrives_whole(
        self, s3_store_for: S3StoreFor, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        data = payload(12 * MIB + 12_345)
        store = s3_store_for(multipart_threshold_mib=5, multipart_chunk_mib=5)

        stored = await store.put_file("t1/long.wav", write(tmp_path / "long.wav", data), content_type="audio/wav")

        assert stored.size_bytes == len(data)
        got = s3.get_object(Bucket=bucket, Key="t1/long.wav")
        assert got["Body"].read() == data
        # A multipart object's ETag is "<md5 of the parts' md5s>-<part count>": 5 + 5 + 2 MiB.
        assert got["ETag"].strip('"').endswith("-3")
        assert s3.head_object(Bucket=bucket, Key="t1/long.wav", PartNumber=1)["ContentLength"] == 5 * MIB

    async def test_put_stream_reads_a_stream_that_cannot_seek_to_its_end(
        self, s3_store_for: S3StoreFor, s3: Any, bucket: str
    ) -> None:
        data = payload(11 * MIB)
        store = s3_store_for(multipart_threshold_mib=5, multipart_chunk_mib=5)

        stored = await store.put_stream("exports/big.csv", _OneWayStream(data), content_type="text/csv")  # type: ignore[arg-type]

        assert stored == StoredObject(key="exports/big.csv", size_bytes=len(data))
        got = s3.get_object(Bucket=bucket, Key="exports/big.csv")
        assert got["Body"].read() == data
        assert got["ContentType"] == "text/csv"
        assert got["ETag"].strip('"').endswith("-3")

    async def test_a_small_stream_goes_up_in_one_put(self, s3_store_for: S3StoreFor, s3: Any, bucket: str) -> None:
        stored = await s3_store_for().put_stream("r/a.csv", io.BytesIO(b"a,b\n"), content_type="text/csv")

        assert stored.size_bytes == 4
        assert s3.get_object(Bucket=bucket, Key="r/a.csv")["Body"].read() == b"a,b\n"

    async def test_a_second_put_replaces_the_object(self, s3_store_for: S3StoreFor, s3: Any, bucket: str) -> None:
        store = s3_store_for()
        await store.put_stream("r/a.wav", io.BytesIO(b"first"), content_type="audio/wav")

        await store.put_stream("r/a.wav", io.BytesIO(b"second"), content_type="audio/wav")

        assert s3.get_object(Bucket=bucket, Key="r/a.wav")["Body"].read() == b"second"

    async def test_keys_get_the_bucket_urls_prefix(self, s3_store_for: S3StoreFor, s3: Any, bucket: str) -> None:
        store = s3_store_for(prefix="engage/recordings/")

        await store.put_stream("t1/a.wav", io.BytesIO(b"a"), content_type="audio/wav")

        listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert [item["Key"] for item in listed] == ["engage/recordings/t1/a.wav"]

    async def test_server_side_encryption_is_asked_for_on_every_upload_when_configured(
        self, s3_store_for: S3StoreFor, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        store = s3_store_for(sse="AES256", multipart_threshold_mib=5, multipart_chunk_mib=5)

        await store.put_stream("r/small.wav", io.BytesIO(b"a"), content_type="audio/wav")
        await store.put_file("r/big.wav", write(tmp_path / "big.wav", payload(6 * MIB)), content_type="audio/wav")

        for key in ("r/small.wav", "r/big.wav"):
            assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"

    async def test_kms_encryption_names_the_configured_key(
        self, s3_store_for: S3StoreFor, s3: Any, bucket: str
    ) -> None:
        store = s3_store_for(sse="aws:kms", kms_key_id="alias/engage-recordings")

        await store.put_stream("r/a.wav", io.BytesIO(b"a"), content_type="audio/wav")

        head = s3.head_object(Bucket=bucket, Key="r/a.wav")
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith("alias/engage-recordings")

    async def test_without_encryption_settings_nothing_is_asked_for(
        self, s3_store_for: S3StoreFor, s3: Any, bucket: str
    ) -> None:
        await s3_store_for().put_stream("r/a.wav", io.BytesIO(b"a"), content_type="audio/wav")

        assert "SSEKMSKeyId" not in s3.head_object(Bucket=bucket, Key="r/a.wav")

    async def test_invalid_keys_are_refused_before_any_request(self, s3_store_for: S3StoreFor) -> None:
        with pytest.raises(ValueError, match="invalid object key"):
            await s3_store_for().put_stream("../a.wav", io.BytesIO(b"a"), content_type="audio/wav")


class TestPresignAndDelete:
    async def test_a_presigned_url_fetches_the_exact_bytes(self, s3_store_for: S3StoreFor) -> None:
        data = payload(200_000)
        store = s3_store_for(prefix="p")
        await store.put_stream("t1/call.wav", io.BytesIO(data), content_type="audio/wav")

        signed = await store.presign_get("t1/call.wav", expires_in=timedelta(hours=1), now=NOW)

        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(signed.url)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == "audio/wav"
        assert signed.expires_at == NOW + timedelta(hours=1)

    async def test_a_presigned_url_with_a_filename_asks_for_an_attachment(self, s3_store_for: S3StoreFor) -> None:
        store = s3_store_for()
        await store.put_stream("t1/call.wav", io.BytesIO(b"abc"), content_type="audio/wav")

        signed = await store.presign_get("t1/call.wav", expires_in=timedelta(hours=1), now=NOW, filename="call 7.wav")

        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(signed.url)
        assert response.headers["content-disposition"] == (
            "attachment; filename=\"call 7.wav\"; filename*=UTF-8''call%207.wav"
        )

    async def test_after_delete_the_object_is_gone_and_its_url_finds_nothing(
        self, s3_store_for: S3StoreFor, s3: Any, bucket: str
    ) -> None:
        store = s3_store_for()
        await store.put_stream("t1/call.wav", io.BytesIO(b"abc"), content_type="audio/wav")
        signed = await store.presign_get("t1/call.wav", expires_in=timedelta(hours=1), now=NOW)

        await store.delete("t1/call.wav")

        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(signed.url)).status_code == 404
        with pytest.raises(ClientError, match="404"):
            s3.head_object(Bucket=bucket, Key="t1/call.wav")

    async def test_deleting_what_is_not_there_is_not_an_error(self, s3_store_for: S3StoreFor) -> None:
        await s3_store_for().delete("never/stored.wav")

    async def test_presigned_urls_are_signed_for_the_public_endpoint_when_one_is_set(
        self, s3_store_for: S3StoreFor, bucket: str
    ) -> None:
        store = s3_store_for(public_endpoint="https://media.example.test")

        signed = await store.presign_get("t1/call.wav", expires_in=timedelta(minutes=10), now=NOW)

        parts = urlsplit(signed.url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "media.example.test", f"/{bucket}/t1/call.wav")
        assert verify(signed.url, secret_key=SECRET_KEY, now=datetime.now(UTC)).valid

    @pytest.mark.parametrize("expires_in", [timedelta(0), timedelta(days=8)])
    async def test_lifetimes_outside_zero_to_seven_days_are_refused(
        self, s3_store_for: S3StoreFor, expires_in: timedelta
    ) -> None:
        with pytest.raises(ValueError, match="expires_in"):
            await s3_store_for().presign_get("t1/call.wav", expires_in=expires_in, now=NOW)


class TestSigV4:
    """moto serves a tampered or expired presigned URL as readily as a good one; the verifier in sigv4.py
    (AWS's algorithm by hand, no botocore) is what tells them apart, and must be able to say no."""

    @pytest.fixture
    async def url(self, s3_store_for: S3StoreFor) -> str:
        signed = await s3_store_for().presign_get("t1/call.wav", expires_in=timedelta(hours=1), now=NOW)
        return signed.url

    async def test_a_one_hour_url_is_sigv4_with_every_query_parameter_and_verifies(self, url: str) -> None:
        query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}

        assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        assert query["X-Amz-Expires"] == "3600"
        assert query["X-Amz-SignedHeaders"] == "host"
        assert query["X-Amz-Credential"].endswith("/us-east-1/s3/aws4_request")
        assert len(query["X-Amz-Signature"]) == 64
        assert "X-Amz-Date" in query
        assert verify(url, secret_key=SECRET_KEY, now=datetime.now(UTC)).valid

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            ("/t1/call.wav", "/t1/other.wav"),
            ("X-Amz-Expires=3600", "X-Amz-Expires=86400"),
            ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA256&x-id=GetObject"),
        ],
    )
    async def test_a_url_changed_in_its_key_or_expiry_does_not_verify(self, url: str, old: str, new: str) -> None:
        assert old in url

        assert not verify(url.replace(old, new), secret_key=SECRET_KEY, now=datetime.now(UTC)).signature_ok

    async def test_another_host_or_secret_does_not_verify(self, url: str) -> None:
        moved = urlunsplit(urlsplit(url)._replace(netloc="127.0.0.1:1"))

        assert not verify(moved, secret_key=SECRET_KEY, now=datetime.now(UTC)).signature_ok
        assert not verify(url, secret_key="another-secret", now=datetime.now(UTC)).signature_ok

    async def test_past_its_lifetime_a_url_is_expired(self, url: str) -> None:
        signed_at = datetime.strptime(parse_qs(urlsplit(url).query)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
        signed_at = signed_at.replace(tzinfo=UTC)

        assert not verify(url, secret_key=SECRET_KEY, now=signed_at + timedelta(seconds=3599)).expired
        assert verify(url, secret_key=SECRET_KEY, now=signed_at + timedelta(seconds=3600)).expired


class TestFailures:
    async def test_an_unreachable_endpoint_is_a_storage_error_naming_operation_and_key_without_the_secret(
        self, closed_port: int, tmp_path: Path
    ) -> None:
        store = S3Store(
            bucket="engage-test-down",
            prefix="",
            settings=s3_settings(f"http://127.0.0.1:{closed_port}", connect_timeout_seconds=1, read_timeout_seconds=1),
        )
        try:
            with pytest.raises(StorageError) as raised:
                await store.put_file("t1/call.wav", write(tmp_path / "a.wav", b"abc"), content_type="audio/wav")
            with pytest.raises(StorageError, match=re.escape("delete of 't1/call.wav'")):
                await store.delete("t1/call.wav")
        finally:
            await store.close()

        message = str(raised.value)
        assert "put_file of 't1/call.wav'" in message
        assert "EndpointConnectionError" in message
        assert SECRET_KEY not in message

    async def test_a_missing_bucket_is_a_storage_error_with_the_services_code(
        self, moto_endpoint: str, tmp_path: Path
    ) -> None:
        store = S3Store(bucket="engage-test-no-such-bucket", prefix="", settings=s3_settings(moto_endpoint))
        try:
            with pytest.raises(StorageError, match="NoSuchBucket") as raised:
                await store.put_file("t1/call.wav", write(tmp_path / "a.wav", b"abc"), content_type="audio/wav")
            with pytest.raises(StorageError, match="NoSuchBucket"):
                await store.put_stream("t1/call.wav", io.BytesIO(b"abc"), content_type="audio/wav")
        finally:
            await store.close()

        assert "put_file of 't1/call.wav' in bucket 'engage-test-no-such-bucket'" in str(raised.value)
        assert SECRET_KEY not in str(raised.value)

    async def test_a_missing_source_file_is_a_storage_error(self, s3_store_for: S3StoreFor, tmp_path: Path) -> None:
        with pytest.raises(StorageError, match=re.escape("put_file of 't1/call.wav'")):
            await s3_store_for().put_file("t1/call.wav", tmp_path / "nothing.wav", content_type="audio/wav")
