"""Engage: an open-source, carrier-grade outbound voice dialer."""

__version__ = "0.1.0"
