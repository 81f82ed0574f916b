"""Telephony: the `Switch` port the dialer drives (domain terms only), its ESL adapter for FreeSWITCH, and a
switch simulator that speaks ESL over a real socket. Only this package and the composition roots know ESL."""
