"""Campaigns: dialing settings, the draft → active ↔ paused → completed lifecycle, assigned agents."""
