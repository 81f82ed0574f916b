"""Domain-free building blocks: database, errors, pagination, ids, clock, security, outbox, logging."""
