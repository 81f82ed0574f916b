"""`engage bench <what>`: benchmarks are programs that print figures, never timed tests.

One module per benchmark (its docstring says what it measures and how); `common` holds the loopback server and
load loops they share, `people` the synthetic contact lists. Each creates its own tenant.

`registry` maps each name to its program. This package's `__init__` imports nothing, so the load process that
`load` runs as `python -m engage.bench.load` starts in a fraction of a second, not after importing every
benchmark and the app (4.4 s, per measurement, with the python fallback load).
"""
