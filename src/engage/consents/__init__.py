"""Consent records: who agreed to be called, for what, until when; the compliance `consent` check reads them."""
