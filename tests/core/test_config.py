"""The settings tree (issue 2, point 3; DESIGN.md §2): `ENGAGE_` variables, nested groups, and the start-up
refusals — an unusable JWT secret, and a simulator clock outside `telephony=sim`."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from engage.config import (
    MIN_SECRET_LENGTH,
    InsecureSecretError,
    JwtSettings,
    Settings,
    Telephony,
    jwt_secret_problem,
    require_secure_jwt,
)
from engage.core.clock import ShiftedClock
from engage.core.ratelimit import InMemoryCounter, RedisCounter, create_counter
from engage.main import clock_for

STRONG_SECRET = "k" * MIN_SECRET_LENGTH


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the variables a test sets itself: none inherited from the shell running the suite."""
    for name in list(os.environ):
        if name.upper().startswith("ENGAGE_"):
            monkeypatch.delenv(name)


def _with_jwt(secret: str | None, *, demo: bool = False, data_dir: Path | None = None) -> Settings:
    return Settings(
        jwt=JwtSettings(secret=SecretStr(secret) if secret is not None else None),
        demo=demo,
        data_dir=data_dir or Path(".engage"),
    )


class TestEnvironment:
    def test_engage_variables_fill_the_nested_groups(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("ENGAGE_DATABASE_URL", "postgresql://engage@db.internal:5432/engage")
        monkeypatch.setenv("ENGAGE_SIM_ANSWER_RATE", "0.5")
        monkeypatch.setenv("ENGAGE_SIM_RING_SECONDS", "1-3")
        monkeypatch.setenv("ENGAGE_JWT_SECRET", STRONG_SECRET)
        monkeypatch.setenv("ENGAGE_REDIS_URL", "redis://cache.internal:6379/0")
        monkeypatch.setenv("ENGAGE_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("ENGAGE_API_MAX_BODY_BYTES", "4096")
        monkeypatch.setenv("ENGAGE_RATE_DEFAULT_PER_MINUTE", "500")
        monkeypatch.setenv("ENGAGE_TELEPHONY", "esl")
        monkeypatch.setenv("ENGAGE_ESL_HOST", "fs.internal")
        monkeypatch.setenv("ENGAGE_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")

        settings = Settings()

        assert settings.database.url == "postgresql://engage@db.internal:5432/engage"
        assert settings.sim.answer_rate == 0.5
        assert settings.sim.ring_seconds == "1-3"
        assert settings.jwt.secret is not None
        assert settings.jwt.secret.get_secret_value() == STRONG_SECRET
        assert settings.redis.url == "redis://cache.internal:6379/0"
        assert settings.data_dir == tmp_path
        assert settings.api.max_body_bytes == 4096
        assert settings.rate.default_per_minute == 500
        assert settings.telephony is Telephony.esl
        assert settings.esl.host == "fs.internal"
        assert settings.webhook.allow_private_targets is True

    def test_defaults_without_any_variable(self) -> None:
        settings = Settings()

        assert settings.database.url is None
        assert settings.embedded_database
        assert settings.redis.url is None
        assert settings.jwt.secret is None
        assert settings.data_dir == Path(".engage")
        assert settings.telephony is Telephony.sim
        assert settings.rate.default_per_minute == 2000
        assert settings.jwt.access_ttl_seconds == 86_400
        assert (settings.sim.answer_rate, settings.sim.busy_rate, settings.sim.voicemail_rate) == (0.35, 0.10, 0.05)
        assert settings.webhook.allow_private_targets is False

    def test_variables_without_the_prefix_are_ignored(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DATABASE_URL", "postgresql://someone-else@elsewhere/db")
        monkeypatch.setenv("JWT_SECRET", STRONG_SECRET)

        settings = Settings()

        assert settings.database.url is None
        assert settings.jwt.secret is None

    def test_jwt_secret_is_not_shown_when_settings_are_printed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ENGAGE_JWT_SECRET", STRONG_SECRET)

        settings = Settings()

        assert STRONG_SECRET not in repr(settings)
        assert STRONG_SECRET not in str(settings.model_dump())

    @pytest.mark.parametrize(
        ("name", "value"),
        [("ENGAGE_SIM_ANSWER_RATE", "1.5"), ("ENGAGE_API_PORT", "70000"), ("ENGAGE_JWT_ALGORITHM", "none")],
    )
    def test_out_of_range_values_are_refused(self, monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
        monkeypatch.setenv(name, value)

        with pytest.raises(ValidationError):
            Settings()

    def test_redis_url_unset_counts_in_process_and_set_counts_in_redis(self) -> None:
        assert isinstance(create_counter(None), InMemoryCounter)
        assert isinstance(create_counter("redis://127.0.0.1:6379/15"), RedisCounter)


class TestJwtSecret:
    def test_missing_secret_is_refused(self) -> None:
        with pytest.raises(InsecureSecretError, match="not set"):
            require_secure_jwt(_with_jwt(None))

    @pytest.mark.parametrize("placeholder", ["changeme", "secret", "CHANGEME", "  change-me  ", "jwt-secret", ""])
    def test_placeholder_secret_is_refused(self, placeholder: str) -> None:
        with pytest.raises(InsecureSecretError, match="placeholder"):
            require_secure_jwt(_with_jwt(placeholder))

    def test_secret_shorter_than_32_characters_is_refused(self) -> None:
        with pytest.raises(InsecureSecretError, match="at least 32"):
            require_secure_jwt(_with_jwt("k" * (MIN_SECRET_LENGTH - 1)))

    def test_long_secret_is_used_as_given(self) -> None:
        settings = require_secure_jwt(_with_jwt(STRONG_SECRET))

        assert settings.jwt.secret is not None
        assert settings.jwt.secret.get_secret_value() == STRONG_SECRET

    def test_refusal_does_not_echo_the_secret(self) -> None:
        with pytest.raises(InsecureSecretError) as refused:
            require_secure_jwt(_with_jwt("short-but-private"))

        assert "short-but-private" not in str(refused.value)

    def test_demo_mode_without_a_secret_generates_one_stored_0600_under_data_dir(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"

        settings = require_secure_jwt(_with_jwt(None, demo=True, data_dir=data_dir))

        assert settings.jwt.secret is not None
        generated = settings.jwt.secret.get_secret_value()
        assert jwt_secret_problem(settings.jwt.secret) is None
        stored = data_dir / "jwt-secret"
        assert stored.read_text() == generated
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        assert list(data_dir.iterdir()) == [stored]

    def test_demo_mode_reuses_the_stored_secret_on_the_next_start(self, tmp_path: Path) -> None:
        first = require_secure_jwt(_with_jwt(None, demo=True, data_dir=tmp_path))
        second = require_secure_jwt(_with_jwt(None, demo=True, data_dir=tmp_path))

        assert first.jwt.secret is not None
        assert second.jwt.secret is not None
        assert second.jwt.secret.get_secret_value() == first.jwt.secret.get_secret_value()

    def test_demo_mode_replaces_a_stored_secret_that_is_empty(self, tmp_path: Path) -> None:
        # A process that died between creating the file and writing it left this behind.
        (tmp_path / "jwt-secret").touch(mode=0o600)

        settings = require_secure_jwt(_with_jwt(None, demo=True, data_dir=tmp_path))

        assert settings.jwt.secret is not None
        assert jwt_secret_problem(settings.jwt.secret) is None
        assert (tmp_path / "jwt-secret").read_text() == settings.jwt.secret.get_secret_value()

    def test_demo_mode_replaces_a_stored_secret_that_is_a_placeholder(self, tmp_path: Path) -> None:
        (tmp_path / "jwt-secret").write_text("changeme\n")

        settings = require_secure_jwt(_with_jwt(None, demo=True, data_dir=tmp_path))

        assert settings.jwt.secret is not None
        assert settings.jwt.secret.get_secret_value() != "changeme"
        assert jwt_secret_problem(settings.jwt.secret) is None

    def test_demo_mode_does_not_excuse_a_placeholder_the_operator_set(self, tmp_path: Path) -> None:
        with pytest.raises(InsecureSecretError, match="placeholder"):
            require_secure_jwt(_with_jwt("changeme", demo=True, data_dir=tmp_path))

        assert not (tmp_path / "jwt-secret").exists()

    def test_demo_mode_keeps_a_good_secret_the_operator_set(self, tmp_path: Path) -> None:
        settings = require_secure_jwt(_with_jwt(STRONG_SECRET, demo=True, data_dir=tmp_path))

        assert settings.jwt.secret is not None
        assert settings.jwt.secret.get_secret_value() == STRONG_SECRET
        assert not (tmp_path / "jwt-secret").exists()


class TestSimulatorClock:
    def test_clock_start_with_an_offset_is_accepted_and_starts_the_process_clock_there(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ENGAGE_SIM_CLOCK_START", "2026-06-02T10:00:00+04:00")

        settings = Settings()
        clock = clock_for(settings)

        assert settings.sim.clock_start == datetime(2026, 6, 2, 6, 0, tzinfo=UTC)
        assert isinstance(clock, ShiftedClock)
        assert timedelta(0) <= clock.now() - datetime(2026, 6, 2, 6, 0, tzinfo=UTC) < timedelta(minutes=1)

    def test_clock_start_is_refused_with_telephony_esl(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ENGAGE_SIM_CLOCK_START", "2026-06-02T06:00:00Z")
        monkeypatch.setenv("ENGAGE_TELEPHONY", "esl")

        with pytest.raises(ValidationError, match="only with ENGAGE_TELEPHONY=sim"):
            Settings()

    def test_naive_clock_start_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ENGAGE_SIM_CLOCK_START", "2026-06-02T06:00:00")

        with pytest.raises(ValidationError, match="must carry an offset"):
            Settings()

    def test_shifted_clock_refuses_a_naive_start(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            ShiftedClock(datetime(2026, 6, 2, 6, 0))
