"""A registry of 1,000,000 numbers imports with bounded memory: the file is streamed a chunk at a time,
never held whole, and neither are its numbers (issue: "a 1,000,000-row file within memory bounds")."""

from __future__ import annotations

import tracemalloc

from .conftest import Registries

ROWS = 1_000_000
# Measured: 6.7 MiB (two chunks of 50,000 numbers alive at once). The file's numbers held in one list would be
# ~70 MiB for a million of them.
PEAK_BYTES = 32 * 1024 * 1024


async def test_a_million_e164_numbers_import_in_full_with_bounded_python_memory(registries: Registries) -> None:
    jurisdiction = await registries.use("OM")
    path = registries.folder / "om-registry.csv"
    with path.open("w", encoding="utf-8") as file:
        file.write("phone\n")
        for n in range(ROWS):
            file.write(f"+9689{n:07d}\n")

    tracemalloc.start()
    try:
        result = await registries.import_file(jurisdiction, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (result.lines_read, result.invalid, result.added, result.total) == (ROWS, 0, ROWS, ROWS)
    assert await registries.count(jurisdiction) == ROWS
    load = await registries.load(jurisdiction)
    assert load is not None
    assert load.count == ROWS
    assert peak < PEAK_BYTES, f"peak Python allocation {peak / 2**20:.1f} MiB"
