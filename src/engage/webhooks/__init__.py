"""Webhooks: tenants' subscriptions, and the dispatcher that delivers outbox events to them, signed, with the
seed's retry schedule."""
