"""The dialer: the worker loop that paces each leased campaign, the hopper, the call flow over the `Switch`
port, and the pure pacers (`pacing`)."""
