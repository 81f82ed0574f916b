"""`engage bench recordings` as a real process, with tiny parameters: it prints its figures in the documented
shape, and the recordings it says it uploaded are in the bucket, whole. Shape only: tests never judge
wall-clock numbers (STYLE.md 14)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..cli.processes import clean_environment, run_engage
from ..s3 import ACCESS_KEY, SECRET_KEY

# 0.1 minutes of 8 kHz 16-bit mono: 6 s x 16,000 bytes, plus the 44-byte WAV header.
SMALL_WAV_BYTES = 96_044
BIG_WAV_BYTES = 192_044


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="eg") as path:
        yield Path(path)


@pytest.fixture
def bench_env(data_dir: Path) -> dict[str, str]:
    return {**clean_environment(), "ENGAGE_DATA_DIR": str(data_dir), "ENGAGE_LOG_LEVEL": "WARNING"}


TINY = ("--count", "3", "--minutes", "0.1", "--big-count", "1", "--big-minutes", "0.2", "--concurrency", "2")


def assert_figures(figures: dict[str, Any]) -> None:
    assert figures["benchmark"] == "recordings"
    assert figures["concurrency"] == 2
    assert isinstance(figures["rss_before_mib"], float)
    small, big = figures["phases"]
    for phase, count, size in ((small, 3, SMALL_WAV_BYTES), (big, 1, BIG_WAV_BYTES)):
        assert (phase["recordings"], phase["uploaded"], phase["verified"], phase["errors"]) == (count, count, count, 0)
        assert phase["bytes"] == count * size
        assert set(phase["upload_seconds"]) == {"p50", "p99"}
        assert all(isinstance(phase[k], float) for k in ("seconds", "uploads_per_second", "mb_per_second"))
        assert phase["peak_rss_mib"] >= figures["rss_before_mib"]


class TestBenchRecordings:
    async def test_against_its_own_moto_server_it_prints_the_figures_of_both_phases(
        self, bench_env: dict[str, str]
    ) -> None:
        result = await run_engage("bench", "recordings", *TINY, env=bench_env, limit_seconds=120)

        assert result.returncode == 0, result.stderr
        figures = result.json()
        assert_figures(figures)
        assert figures["store"] == "moto server on loopback"
        assert "uploads/s" in result.stderr  # the table, for people

    async def test_against_a_configured_bucket_the_uploads_land_whole_under_its_prefix(
        self, bench_env: dict[str, str], moto_endpoint: str, s3: Any, bucket: str
    ) -> None:
        env = {
            **bench_env,
            "ENGAGE_STORAGE_URL": f"s3://{bucket}/bench-run",
            "ENGAGE_S3_ENDPOINT": moto_endpoint,
            "ENGAGE_S3_ACCESS_KEY": ACCESS_KEY,
            "ENGAGE_S3_SECRET_KEY": SECRET_KEY,
        }

        result = await run_engage("bench", "recordings", *TINY, "--keep", env=env, limit_seconds=120)

        assert result.returncode == 0, result.stderr
        assert_figures(result.json())
        assert SECRET_KEY not in result.stdout + result.stderr
        objects = s3.list_objects_v2(Bucket=bucket)["Contents"]
        sizes = sorted((item["Key"].rpartition("/")[2], item["Size"]) for item in objects)
        assert sizes == [
            ("big-000000.wav", BIG_WAV_BYTES),
            ("recordings-000000.wav", SMALL_WAV_BYTES),
            ("recordings-000001.wav", SMALL_WAV_BYTES),
            ("recordings-000002.wav", SMALL_WAV_BYTES),
        ]
        assert all(item["Key"].startswith("bench-run/bench/") for item in objects)
        body = s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read()
        assert body[:4] == b"RIFF"
        assert body[8:12] == b"WAVE"
