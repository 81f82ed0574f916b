"""The stream's bytes: Server-Sent Events (WHATWG HTML, "Server-sent events") framing of outbox events.

Every event is `id:` (its event id, what a client resumes from), `event:` (its type) and one `data:` line, the
envelope webhooks send (`core.outbox.envelope`: compact JSON, so it never holds a line break)."""

from __future__ import annotations

from engage.core.outbox import envelope

from .repository import OutboxRow

# Sent first: the browser waits this long before reconnecting, and the comment flushes proxies' first read.
PREAMBLE = b"retry: 3000\n: connected\n\n"
HEARTBEAT = b": heartbeat\n\n"


def frame(row: OutboxRow) -> bytes:
    data = envelope(
        event_id=row.event_id,
        event_type=row.event_type,
        tenant_id=row.tenant_id,
        occurred_at=row.occurred_at,
        correlation_id=row.correlation_id,
        payload=row.payload,
    )
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (str(row.event_id).encode(), row.event_type.encode(), data)
