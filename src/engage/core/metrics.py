"""Prometheus metrics owned by the HTTP edge. Domains register their own next to their code."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "engage_http_requests_total",
    "HTTP requests served, by route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "engage_http_request_duration_seconds",
    "Time from request start to the last byte of the response.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RATE_LIMITED = Counter(
    "engage_rate_limited_total",
    "Requests refused with 429, by reason.",
    ["reason"],
)
