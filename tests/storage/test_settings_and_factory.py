"""ENGAGE_STORAGE_URL and ENGAGE_S3_*: parsed into the settings tree, refused with a clear message when wrong;
`open_store` picks the adapter they name."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from engage.config import S3Settings, Settings, StorageSettings
from engage.storage import open_store
from engage.storage.local import LocalStore
from engage.storage.port import StorageError
from engage.storage.s3 import S3Store
from engage.storage.signing import derive_signing_key

from ..cli.processes import clean_environment

NOW = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment without the developer's ENGAGE_* variables."""
    for name in set(os.environ) - set(clean_environment()):
        monkeypatch.delenv(name)
    return monkeypatch


class TestStorageUrl:
    def test_unset_means_the_local_folder(self, env: pytest.MonkeyPatch) -> None:
        settings = Settings()

        assert settings.storage.url is None
        assert settings.storage.s3_location is None

    def test_an_s3_url_with_a_prefix_gives_bucket_and_prefix(self, env: pytest.MonkeyPatch) -> None:
        env.setenv("ENGAGE_STORAGE_URL", "s3://engage-recordings/prod/eu-1/")

        settings = Settings()

        assert settings.storage.s3_location == ("engage-recordings", "prod/eu-1")

    def test_an_s3_url_without_a_prefix_has_an_empty_one(self) -> None:
        assert StorageSettings(url="s3://engage-recordings").s3_location == ("engage-recordings", "")

    @pytest.mark.parametrize(
        "url",
        [
            "https://engage-recordings.s3.amazonaws.com",
            "file:///var/lib/engage",
            "/var/lib/engage",
            "s3://",
            "s3://Engage_Recordings",
            "s3://ab",
            "s3://engage-recordings/../other",
            "s3://engage-recordings/a//b",
            "s3://engage-recordings?versionId=1",
        ],
    )
    def test_anything_but_s3_bucket_and_prefix_is_refused_with_what_is_accepted(
        self, env: pytest.MonkeyPatch, url: str
    ) -> None:
        env.setenv("ENGAGE_STORAGE_URL", url)

        with pytest.raises(ValidationError, match=r"ENGAGE_STORAGE_URL must be s3://bucket or s3://bucket/prefix"):
            Settings()


class TestS3Settings:
    def test_every_variable_reaches_its_field(self, env: pytest.MonkeyPatch) -> None:
        for name, value in {
            "ENGAGE_S3_ENDPOINT": "http://minio:9000",
            "ENGAGE_S3_PUBLIC_ENDPOINT": "https://media.example.com",
            "ENGAGE_S3_ACCESS_KEY": "AKIAEXAMPLE",
            "ENGAGE_S3_SECRET_KEY": "wJalrXUtnFEMI/K7MDENG",
            "ENGAGE_S3_REGION": "eu-west-1",
            "ENGAGE_S3_SSE": "aws:kms",
            "ENGAGE_S3_KMS_KEY_ID": "alias/engage",
            "ENGAGE_S3_ADDRESSING_STYLE": "virtual",
            "ENGAGE_S3_MULTIPART_THRESHOLD_MIB": "16",
            "ENGAGE_S3_MULTIPART_CHUNK_MIB": "10",
            "ENGAGE_S3_MAX_CONCURRENCY": "8",
            "ENGAGE_S3_CONNECT_TIMEOUT_SECONDS": "2",
            "ENGAGE_S3_READ_TIMEOUT_SECONDS": "30",
        }.items():
            env.setenv(name, value)

        s3 = Settings().s3

        assert (s3.endpoint, s3.public_endpoint, s3.region) == (
            "http://minio:9000",
            "https://media.example.com",
            "eu-west-1",
        )
        assert s3.access_key == SecretStr("AKIAEXAMPLE")
        assert s3.secret_key == SecretStr("wJalrXUtnFEMI/K7MDENG")
        assert (s3.sse, s3.kms_key_id, s3.addressing_style) == ("aws:kms", "alias/engage", "virtual")
        assert (s3.multipart_threshold_mib, s3.multipart_chunk_mib, s3.max_concurrency) == (16, 10, 8)
        assert (s3.connect_timeout_seconds, s3.read_timeout_seconds) == (2, 30)

    def test_the_defaults_are_path_style_8_mib_parts_four_at_a_time_and_no_encryption_asked(self) -> None:
        s3 = S3Settings()

        assert (s3.endpoint, s3.access_key, s3.secret_key, s3.sse) == (None, None, None, None)
        assert (s3.region, s3.addressing_style) == ("us-east-1", "path")
        assert (s3.multipart_threshold_mib, s3.multipart_chunk_mib, s3.max_concurrency) == (8, 8, 4)

    def test_secrets_do_not_show_in_the_settings_repr(self) -> None:
        s3 = S3Settings(access_key=SecretStr("AKIAEXAMPLE"), secret_key=SecretStr("very-secret-value"))

        assert "very-secret-value" not in repr(s3)
        assert "very-secret-value" not in str(s3.model_dump())

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"access_key": "AKIAEXAMPLE"}, "both ENGAGE_S3_ACCESS_KEY and ENGAGE_S3_SECRET_KEY"),
            ({"secret_key": "secret"}, "both ENGAGE_S3_ACCESS_KEY and ENGAGE_S3_SECRET_KEY"),
            ({"kms_key_id": "alias/engage", "sse": "AES256"}, "ENGAGE_S3_KMS_KEY_ID is accepted only"),
            ({"sse": "aws:kms:dsse"}, "sse"),
            ({"addressing_style": "dns"}, "addressing_style"),
            ({"multipart_chunk_mib": 4}, "multipart_chunk_mib"),
            ({"max_concurrency": 0}, "max_concurrency"),
        ],
    )
    def test_inconsistent_or_out_of_range_values_are_refused(self, fields: dict[str, object], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            S3Settings(**fields)  # type: ignore[arg-type]


class TestOpenStore:
    async def test_unset_url_gives_a_local_store_under_the_data_dir_signing_with_the_secret(
        self, tmp_path: Path
    ) -> None:
        settings = Settings(data_dir=tmp_path, public_url="https://dialer.example.com/")

        store = open_store(settings, signing_secret="s" * 40)

        assert isinstance(store, LocalStore)
        assert store.root == (tmp_path / "objects").resolve()
        signed = await store.presign_get("a/b.wav", expires_in=timedelta(hours=1), now=NOW)
        assert signed.url.startswith("https://dialer.example.com/files/a/b.wav?expires=")

    async def test_without_a_secret_the_local_store_cannot_sign(self, tmp_path: Path) -> None:
        store = open_store(Settings(data_dir=tmp_path), signing_secret=None)

        with pytest.raises(StorageError):
            await store.presign_get("a/b.wav", expires_in=timedelta(hours=1), now=NOW)

    async def test_an_s3_url_gives_an_s3_store_on_that_bucket_and_prefix(self) -> None:
        settings = Settings(
            storage=StorageSettings(url="s3://engage-recordings/prod"),
            s3=S3Settings(
                endpoint="http://127.0.0.1:9", access_key=SecretStr("AKIAEXAMPLE"), secret_key=SecretStr("secret")
            ),
        )

        store = open_store(settings, signing_secret=None)
        try:
            assert isinstance(store, S3Store)
            assert store.object_key("t1/a.wav") == "prod/t1/a.wav"
        finally:
            await store.close()

    def test_the_url_signing_key_is_derived_and_not_the_jwt_secret_itself(self) -> None:
        secret = "s" * 40

        assert derive_signing_key(secret) == derive_signing_key(secret)
        assert secret.encode() not in derive_signing_key(secret)
        assert derive_signing_key(secret) != derive_signing_key("t" * 40)
