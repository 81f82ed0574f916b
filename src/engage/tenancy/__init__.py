"""Tenants: the organisations sharing one installation, each isolated by row-level security."""
