"""Prometheus metrics of the event stream."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STREAMS_OPEN = Gauge("engage_event_streams_open", "Event streams open in this process.")
EVENTS_STREAMED = Counter("engage_events_streamed_total", "Events written to event streams (replayed or live).")
STREAMS_OVERFLOWED = Counter(
    "engage_event_streams_overflowed_total", "Event streams closed because their client fell too far behind."
)
