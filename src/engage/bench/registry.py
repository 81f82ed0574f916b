"""The benchmarks `engage bench <what>` runs, by name."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from engage.bench.api import bench_api
from engage.bench.compliance import bench_compliance
from engage.bench.contacts import bench_contacts
from engage.bench.dialer import bench_dialer
from engage.bench.events import bench_events
from engage.bench.pacing import bench_pacing
from engage.bench.recordings import bench_recordings
from engage.bench.reports import bench_reports
from engage.bench.search import bench_search
from engage.bench.soak import bench_soak
from engage.bench.switch import bench_switch
from engage.bench.webhooks import bench_webhooks
from engage.config import Settings

BENCHMARKS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "api": bench_api,
    "compliance": bench_compliance,
    "contacts": bench_contacts,
    "dialer": bench_dialer,
    "events": bench_events,
    "pacing": bench_pacing,
    "recordings": bench_recordings,
    "reports": bench_reports,
    "search": bench_search,
    "soak": bench_soak,
    "switch": bench_switch,
    "webhooks": bench_webhooks,
}
