"""The compliance engine: one default-deny decision per call attempt, from versioned rule sets, audited in a
hash-chained, append-only log."""
