"""Live events: the tenant's outbox events over Server-Sent Events (`GET /v1/events/stream`), in commit-safe order,
exactly once and resumable, from any API process (docs/events.md)."""
