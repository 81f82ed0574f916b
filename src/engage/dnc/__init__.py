"""The tenant's own do-not-call list (national registries are compliance data, not this)."""
