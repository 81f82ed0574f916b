"""Calls: one row per dial attempt, written by the dialer as the switch reports it, read by the API
(`/v1/calls*`), and the API's requests to the dialer (originate, hang up, disposition)."""
