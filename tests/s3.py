"""S3 for tests: a moto server in its own process (the `moto_endpoint` fixture in tests/conftest.py), the
dummy credentials it is reached with, and helpers to build stores and look at buckets behind the store's back.

boto3 never reads the host's AWS configuration here: the fixture points its config and credentials files at
nothing and clears AWS_* variables, and every client gets these credentials explicitly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from engage.bench.s3_server import moto_server
from engage.config import S3Settings

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-never-logged"
REGION = "us-east-1"


@contextmanager
def isolated_moto() -> Iterator[str]:
    """moto's server on loopback, with boto3 cut off from ~/.aws and AWS_* for as long as it runs."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            patch.delenv(name)
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with moto_server() as endpoint:
            yield endpoint


def s3_settings(endpoint: str, **overrides: Any) -> S3Settings:
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "access_key": SecretStr(ACCESS_KEY),
        "secret_key": SecretStr(SECRET_KEY),
        "region": REGION,
        **overrides,
    }
    return S3Settings(**values)


def raw_client(endpoint: str) -> Any:
    """A plain boto3 client on the same server, to look at what the store did (and to make buckets)."""
    return boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    ).client("s3", endpoint_url=endpoint)


def new_bucket(client: Any) -> str:
    """A fresh bucket, so tests sharing the server never see each other's objects."""
    name = f"engage-test-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=name)
    return name
