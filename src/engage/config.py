"""The settings tree: every knob Engage reads from the environment.

Variables carry the prefix ``ENGAGE_``; a group's fields are reached with one underscore after the
group name (``ENGAGE_DATABASE_URL`` is ``settings.database.url``, ``ENGAGE_SIM_ANSWER_RATE`` is
``settings.sim.answer_rate``), exactly the names DESIGN.md §2 fixes. Invariants checked here: the JWT
secret is never a placeholder unless demo mode generated it, the simulator clock is only accepted with
``telephony=sim``, and the object store is the local folder or an ``s3://`` URL, nothing else.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values people paste from examples; a token signed with one of these is forgeable by anyone.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "jwt-secret", "your-secret", "please-change-me"}
)
# HS256 wants at least as many key bits as the hash output (RFC 7518 §3.2): 32 bytes.
MIN_SECRET_LENGTH = 32


class Telephony(StrEnum):
    sim = "sim"
    esl = "esl"


class DatabaseSettings(BaseModel):
    # Unset: the embedded PostgreSQL under ENGAGE_DATA_DIR.
    url: str | None = None
    # The pool keeps up to twice this many connections open per process (`core.db.create_engine`).
    pool_size: int = Field(default=10, ge=1, le=200)
    statement_timeout_ms: int = Field(default=30_000, ge=100)


class RedisSettings(BaseModel):
    # Unset: rate limits are kept in process (one API replica).
    url: str | None = None


class JwtSettings(BaseModel):
    secret: SecretStr | None = None
    algorithm: str = "HS256"
    # The seed fixes 24 h access tokens (`expires_in: 86400`).
    access_ttl_seconds: int = Field(default=86_400, ge=60)
    refresh_ttl_seconds: int = Field(default=30 * 86_400, ge=3_600)

    @field_validator("algorithm")
    @classmethod
    def _symmetric_only(cls, value: str) -> str:
        if value not in {"HS256", "HS384", "HS512"}:
            raise ValueError("ENGAGE_JWT_ALGORITHM must be HS256, HS384 or HS512")
        return value


class LoginSettings(BaseModel):
    # After this many failed logins for one email within the window, further attempts get a 429
    # until the window ends (OWASP ASVS 2.2.1 asks for throttling of this kind).
    max_failures: int = Field(default=5, ge=1)
    window_seconds: int = Field(default=900, ge=1)


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # The largest request body is a 10,000-contact upload: about 3 MB of JSON. 8 MiB leaves room.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # How long an idle keep-alive connection is kept open. Longer than a load balancer keeps its idle connections
    # to the API (nginx's upstream `keepalive_timeout` and AWS ALB's idle timeout are 60 s): the side that closes
    # an idle connection first must be the balancer, or a request it sends as the API closes is cut (uvicorn's
    # own default of 5 s cut requests in `engage bench soak`).
    keep_alive_seconds: int = Field(default=75, ge=1, le=3600)


class MetricsSettings(BaseModel):
    # ENGAGE_METRICS_TOKEN: when set, GET /metrics answers only `Authorization: Bearer <token>` (a scraper's
    # bearer token); unset, it is open, for a /metrics kept on an internal network.
    token: SecretStr | None = Field(default=None, min_length=16)
    # ENGAGE_METRICS_PORT: `engage worker` (which serves no API) serves its own /metrics on this port, at
    # ENGAGE_METRICS_HOST (loopback by default; without the token, so keep it on an internal interface).
    port: int | None = Field(default=None, ge=1, le=65535)
    host: str = "127.0.0.1"


class RateLimitSettings(BaseModel):
    # Seed: "429 Rate Limited — Exceeded 2,000 requests/minute per tenant"; tenants may carry an override.
    default_per_minute: int = Field(default=2_000, ge=1)


class EslSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8021, ge=1, le=65535)
    # No default: FreeSWITCH ships "ClueCon", and a dialer must not assume an unchanged default password.
    password: SecretStr | None = None
    # The SIP gateway customer legs leave through (`sofia/gateway/<gateway>/<number>`).
    gateway: str = "carrier"


class SimSettings(BaseModel):
    answer_rate: float = Field(default=0.35, ge=0, le=1)
    busy_rate: float = Field(default=0.10, ge=0, le=1)
    voicemail_rate: float = Field(default=0.05, ge=0, le=1)
    ring_seconds: str = "2-8"
    talk_seconds: str = "20-120"
    seed: int | None = None
    clock_start: datetime | None = None

    @field_validator("clock_start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("ENGAGE_SIM_CLOCK_START must carry an offset, e.g. 2026-06-02T06:00:00Z")
        return value


class WebhookSettings(BaseModel):
    allow_private_targets: bool = False


class EventsSettings(BaseModel):
    # GET /v1/events/stream. A comment line this often on an idle stream keeps proxies (nginx's default read
    # timeout is 60 s) and load balancers from closing it.
    heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # A stream token (`?token=`, for EventSource, which cannot send headers) opens a stream only this long after
    # it was minted: long enough to hand it to the browser, short enough that a leaked URL is soon worthless.
    stream_token_seconds: int = Field(default=60, ge=5, le=3600)
    # Events waiting for one slow client; past this many its stream is closed (it resumes with Last-Event-ID).
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    # The hub reads the outbox this often even without a notification (a lost LISTEN connection never stalls it).
    poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Outbox events (and their finished webhook deliveries) are deleted this many days after they happened: a
    # stream cannot resume from, nor a delivery be redelivered for, an older event. Calls and the audit log stay.
    retention_days: int = Field(default=30, ge=1, le=3650)


class ComplianceSettings(BaseModel):
    # The time one decision (or one dialer batch) may take; past it the answer is "no" (default deny).
    budget_ms: int = Field(default=250, ge=10, le=10_000)


class DialerSettings(BaseModel):
    # How long a customer leg may ring before it is a no-answer. Under 15 s many callees cannot reach the phone,
    # which wastes the attempt (and Ofcom's guidance asks for at least 15 s before abandoning a ring).
    ring_timeout_seconds: int = Field(default=30, ge=15, le=120)
    # How often each leased campaign is paced, and how often the worker renews its leases.
    tick_seconds: float = Field(default=0.25, gt=0, le=5)
    heartbeat_seconds: float = Field(default=2.0, gt=0, le=30)
    # A worker silent for this long has lost its campaigns: with the heartbeat above, a killed worker's
    # campaigns are taken over well within the 30 s the dialer promises.
    lease_stale_seconds: int = Field(default=15, ge=3, le=300)
    # At most this many new lines per campaign per tick: a floor of agents freeing up at once is dialled over a
    # few ticks rather than in one burst the switch would have to absorb.
    max_lines_per_tick: int = Field(default=50, ge=1, le=1000)
    # A previewed contact is held for the agent this long; then it returns to the hopper.
    preview_hold_seconds: int = Field(default=120, ge=10, le=3600)
    # Run the pacing loop inside `engage serve` (set false to run only `engage worker`s).
    in_process: bool = True


# S3's bucket naming rules (3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending
# with a letter or digit); a prefix is object-key segments, the same alphabet `storage.names` allows in keys.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


class StorageSettings(BaseModel):
    # Unset: objects are files under ENGAGE_DATA_DIR/objects, served by Engage at signed URLs.
    # `s3://bucket` or `s3://bucket/prefix`: an S3-compatible store (ENGAGE_S3_* says where and how).
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _s3_or_unset(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        prefix = parts.path.strip("/")
        if (
            parts.scheme != "s3"
            or not _BUCKET.fullmatch(parts.netloc)
            or (prefix and not _PREFIX.fullmatch(prefix))
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                "ENGAGE_STORAGE_URL must be s3://bucket or s3://bucket/prefix (a valid S3 bucket name; prefix "
                "segments of letters, digits, '.', '_' and '-'), or unset for the local folder under ENGAGE_DATA_DIR"
            )
        return value

    @property
    def s3_location(self) -> tuple[str, str] | None:
        """(bucket, key prefix without slashes) for an S3 store; None for the local folder."""
        if self.url is None:
            return None
        parts = urlsplit(self.url)
        return parts.netloc, parts.path.strip("/")


class S3Settings(BaseModel):
    # Unset: AWS's own endpoint for the region. MinIO or another S3-compatible store: its URL.
    endpoint: str | None = None
    # The host browsers reach the store at, when it differs from `endpoint` (the service talks to
    # http://minio:9000 inside the network, players fetch https://media.example.com). A presigned URL's
    # signature covers its host, so URLs are signed by a second client configured with this endpoint;
    # presigning is offline, so that client never connects anywhere.
    public_endpoint: str | None = None
    # Both unset: boto3's default credential chain (environment, shared config, instance or task role).
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    region: str = "us-east-1"
    # Server-side encryption asked for on every upload; `aws:kms` with `kms_key_id` names the key (unset: the
    # account's default S3 KMS key).
    sse: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None
    # Path-style (`endpoint/bucket/key`) works with MinIO and any endpoint without wildcard DNS; AWS accepts it
    # for existing buckets, `virtual` is its preferred style.
    addressing_style: Literal["auto", "path", "virtual"] = "path"
    # Files above the threshold go up in parts of the chunk size, `max_concurrency` parts at a time: memory per
    # upload is bounded by chunk x concurrency. S3 refuses parts under 5 MiB (except the last), and a 5-minute
    # recording (4.8 MB) stays a single PUT under the 8 MiB default.
    multipart_threshold_mib: int = Field(default=8, ge=5, le=5 * 1024)
    multipart_chunk_mib: int = Field(default=8, ge=5, le=5 * 1024)
    max_concurrency: int = Field(default=4, ge=1, le=32)
    # Every network call has a timeout (STYLE.md 9). A read that stalls this long is retried (standard retry
    # mode, 3 attempts); a part of 8 MiB needs well under a minute on any link worth recording over.
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    read_timeout_seconds: float = Field(default=60.0, gt=0, le=900)

    @model_validator(mode="after")
    def _consistent(self) -> S3Settings:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("set both ENGAGE_S3_ACCESS_KEY and ENGAGE_S3_SECRET_KEY, or neither")
        if self.kms_key_id is not None and self.sse != "aws:kms":
            raise ValueError("ENGAGE_S3_KMS_KEY_ID is accepted only with ENGAGE_S3_SSE=aws:kms")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENGAGE_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_file=None,
        extra="ignore",
    )

    data_dir: Path = Path(".engage")
    public_url: str = "http://127.0.0.1:8000"
    telephony: Telephony = Telephony.sim
    log_level: str = "INFO"
    # Set only by `engage serve --demo` / the embedded default: it may generate its own JWT secret.
    demo: bool = False

    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    jwt: JwtSettings = JwtSettings()
    login: LoginSettings = LoginSettings()
    api: ApiSettings = ApiSettings()
    rate: RateLimitSettings = RateLimitSettings()
    esl: EslSettings = EslSettings()
    sim: SimSettings = SimSettings()
    webhook: WebhookSettings = WebhookSettings()
    events: EventsSettings = EventsSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    dialer: DialerSettings = DialerSettings()
    metrics: MetricsSettings = MetricsSettings()
    storage: StorageSettings = StorageSettings()
    s3: S3Settings = S3Settings()

    @model_validator(mode="after")
    def _clock_only_in_sim(self) -> Settings:
        if self.sim.clock_start is not None and self.telephony is not Telephony.sim:
            raise ValueError("ENGAGE_SIM_CLOCK_START is accepted only with ENGAGE_TELEPHONY=sim")
        return self

    @property
    def embedded_database(self) -> bool:
        return self.database.url is None


class InsecureSecretError(RuntimeError):
    """Raised at start-up when the JWT secret would let anyone forge tokens."""


def jwt_secret_problem(secret: SecretStr | None) -> str | None:
    """Why this secret must be refused, or None when it is acceptable."""
    if secret is None:
        return "ENGAGE_JWT_SECRET is not set"
    value = secret.get_secret_value()
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        return "ENGAGE_JWT_SECRET is a placeholder"
    if len(value) < MIN_SECRET_LENGTH:
        return f"ENGAGE_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters"
    return None


def demo_jwt_secret(data_dir: Path) -> SecretStr:
    """The demo's own secret: generated once, kept (mode 0600) under the data dir so tokens survive restarts."""
    path = data_dir / "jwt-secret"
    if path.exists():
        kept = SecretStr(path.read_text().strip())
        # A file left empty or edited by hand must not become the key: regenerate rather than sign with it.
        if jwt_secret_problem(kept) is None:
            return kept
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # Written to a new private file, then renamed over the old one: a crash leaves the old secret or the
    # whole new one, never a half-written or world-readable file.
    staging = path.with_name(path.name + ".new")
    staging.unlink(missing_ok=True)
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(value)
    os.replace(staging, path)
    return SecretStr(value)


def require_secure_jwt(settings: Settings) -> Settings:
    """Return settings with a usable JWT secret, or refuse to start.

    Only demo mode may fill a missing secret, and only with one it generated itself.
    """
    problem = jwt_secret_problem(settings.jwt.secret)
    if problem is None:
        return settings
    if settings.demo and settings.jwt.secret is None:
        jwt = settings.jwt.model_copy(update={"secret": demo_jwt_secret(settings.data_dir)})
        return settings.model_copy(update={"jwt": jwt})
    raise InsecureSecretError(f"{problem}; set a random value of {MIN_SECRET_LENGTH}+ characters")
