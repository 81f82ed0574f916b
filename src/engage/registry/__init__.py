"""National do-not-call registries (TDRA, CST/CITC, NTRA, TRC): platform-wide data the operator loads with
`engage registry import`; tenants read their status and the compliance engine reads the numbers."""
