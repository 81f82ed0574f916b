"""CLI groups: the caller-ID numbers a tenant owns, grouped for campaigns to dial from."""
