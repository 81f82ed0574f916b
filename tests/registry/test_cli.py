"""`engage registry import JURISDICTION FILE [--replace]` as the operator runs it: a real process against
the run's database. The result is JSON on stdout; a refusal is an RFC 7807 problem on stderr, exit status 2,
and changes nothing."""

from __future__ import annotations

import pytest

from ..cli.processes import run_engage
from .conftest import Registries

PROBLEM_BASE = "https://engage.broadnet.me/errors/"
KW_1, KW_2, KW_3 = "+96555123451", "+96555123452", "+96555123453"


class TestRegistryImport:
    async def test_prints_the_counts_as_json_and_loads_then_replaces_the_registry(
        self, cli_env: dict[str, str], registries: Registries
    ) -> None:
        kw = await registries.use("KW")
        first = registries.write(f"phone\n{KW_1}\n0096555123452\nnot a number\n{KW_1}\n", "kw.csv")
        second = registries.write(f"{KW_3}\n", "kw-full.txt")

        appended = await run_engage("registry", "import", "kw", str(first), env={**cli_env, "ENGAGE_LOG_LEVEL": "INFO"})
        replaced = await run_engage("registry", "import", "KW", str(second), "--replace", env=cli_env)

        assert appended.returncode == 0, appended.stderr
        assert appended.json() == {
            "jurisdiction": "KW",
            "mode": "append",
            "lines_read": 4,
            "invalid": 1,
            "duplicates": 1,
            "added": 2,
            "total": 2,
        }
        assert replaced.returncode == 0, replaced.stderr
        assert replaced.json() == {
            "jurisdiction": "KW",
            "mode": "replace",
            "lines_read": 1,
            "invalid": 0,
            "duplicates": 0,
            "added": 1,
            "total": 1,
        }
        assert await registries.phones(kw) == [KW_3]
        load = await registries.load(kw)
        assert load is not None
        assert (load.mode, load.count, load.source) == ("replace", 1, "kw-full.txt")
        # Its log line has the counts, never a number it loaded.
        assert "registry.imported" in appended.stderr
        assert "55123451" not in appended.stdout + appended.stderr
        assert "55123452" not in appended.stdout + appended.stderr

    @pytest.mark.parametrize(
        ("jurisdiction", "file_name", "slug"),
        [("KWT", "kw.txt", "unknown-jurisdiction"), ("KW", "missing.txt", "registry-file-unreadable")],
    )
    async def test_an_unknown_jurisdiction_or_a_missing_file_is_exit_2_with_a_problem_and_changes_nothing(
        self, cli_env: dict[str, str], registries: Registries, jurisdiction: str, file_name: str, slug: str
    ) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1])
        before = await registries.load(kw)
        registries.write(f"{KW_2}\n", "kw.txt")

        result = await run_engage(
            "registry", "import", jurisdiction, str(registries.folder / file_name), "--replace", env=cli_env
        )

        assert result.returncode == 2
        assert result.stdout == ""
        problem = result.problem()
        assert problem["type"] == PROBLEM_BASE + slug
        assert problem["status"] == 400
        assert problem["title"]
        assert problem["detail"]
        assert await registries.phones(kw) == [KW_1]
        assert await registries.load(kw) == before

    async def test_help_names_the_jurisdiction_the_file_and_replace(self, cli_env: dict[str, str]) -> None:
        result = await run_engage("registry", "import", "--help", env=cli_env)

        assert result.returncode == 0
        for word in ("JURISDICTION", "FILE", "--replace"):
            assert word in result.stdout
