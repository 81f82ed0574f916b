"""Structured JSON logs (structlog) with the request id bound, and masking of phones and secrets.

Invariant: a value under a sensitive key is never written in full, whatever the caller passes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are secrets: dropped to a fixed marker.
_SECRET_KEYS = re.compile(r"(password|secret|token|authorization|api_key|cookie)", re.IGNORECASE)
# Keys whose values are phone numbers: shown with the middle digits hidden.
_PHONE_KEYS = re.compile(r"(phone|destination|caller_id|msisdn|number)", re.IGNORECASE)
_EMAIL_KEYS = re.compile(r"email", re.IGNORECASE)


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


def _mask(value: object, key: str) -> object:
    if _SECRET_KEYS.search(key):
        return "[masked]"
    if isinstance(value, str) and _PHONE_KEYS.search(key):
        return mask_phone(value)
    if isinstance(value, str) and _EMAIL_KEYS.search(key):
        return mask_email(value)
    return value


def mask_sensitive(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in ("event", "timestamp", "level", "logger"):
            continue
        event_dict[key] = _mask(event_dict[key], key)
    return event_dict


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stdout; stdlib loggers (uvicorn, sqlalchemy) routed through the same renderer."""
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
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our own middleware logs each request once, with the request id; uvicorn's access line would repeat it.
    logging.getLogger("uvicorn.access").setLevel("WARNING")
