"""The import contracts in pyproject.toml cover every package under src/engage, so a new one is checked the day it
appears: each domain's private modules are forbidden to every other package, each domain's tables are joined
only by its own repository, every domain sits in the layers contract, and no module names another domain's table
in raw SQL.

The per-domain contracts are generated from the source tree: `python tests/test_architecture.py` prints them,
and the test fails, with the text to paste, when pyproject.toml holds anything else.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "engage"

# May import anything: they build and wire the objects everything else is given.
COMPOSITION_ROOTS = frozenset({"main", "cli", "demo", "bench", "migrate", "models"})
# Domain-free building blocks every package may use (its own contract keeps `core` free of domains).
SHARED = frozenset({"core", "config"})
# What every other package may import of a domain: its use cases, its wire types and errors, and its tables'
# types (for annotations; only the domain's own repository may query them, see `owned_tables`).
PUBLIC = frozenset({"service", "schemas", "errors", "models"})
PUBLIC_EXTRA = {
    # DESIGN.md: one engine, one entry point for the API, originate and the dialer; `deps` hands routes of
    # other domains the engine the composition root built.
    "compliance": frozenset({"engine", "deps"}),
    # The `Switch` port and its events; `esl`, `sim` and `connect` are the composition roots' to wire.
    "telephony": frozenset({"port", "events"}),
    # The `ObjectStore` port and `StorageError`, and `deps` (the request's store, as compliance's `deps`); the
    # adapters, the factory and the file route are the composition roots' to wire.
    "storage": frozenset({"port", "deps"}),
}
# (importer, imported) pairs kept on purpose, with why; mirrored, with the same reasons, in pyproject.toml.
MODELS_IGNORES: dict[str, list[str]] = {
    "agents": ["engage.dialer.repository -> engage.agents.models", "engage.reports.repository -> engage.agents.models"],
    "calls": ["engage.dialer.repository -> engage.calls.models", "engage.reports.repository -> engage.calls.models"],
    "campaigns": [
        "engage.dialer.repository -> engage.campaigns.models",
        "engage.reports.repository -> engage.campaigns.models",
    ],
    "cli_groups": ["engage.dialer.repository -> engage.cli_groups.models"],
    "contacts": [
        "engage.dialer.repository -> engage.contacts.models",
        "engage.reports.repository -> engage.contacts.models",
    ],
    "users": [
        "engage.dialer.repository -> engage.users.models",
        "engage.agents.repository -> engage.users.models",
        "engage.reports.repository -> engage.users.models",
    ],
}
# Raw SQL (text(), table()) naming another domain's table: (module, table) pairs kept on purpose.
RAW_SQL_EXEMPTIONS = frozenset(
    {
        # contacts sits below campaigns (a campaign's start counts its dialable contacts), so it cannot call
        # campaigns' service; it reads the campaign's id, name and status by name. See docs/architecture.md.
        ("engage.contacts.repository", "campaigns"),
    }
)


def top_level() -> list[str]:
    return sorted(
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")
    )


def domains() -> list[str]:
    return [name for name in top_level() if (PACKAGE / name).is_dir() and name not in COMPOSITION_ROOTS | SHARED]


def children(domain: str) -> list[str]:
    folder = PACKAGE / domain
    return sorted(
        p.stem if p.is_file() else p.name
        for p in folder.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
    )


def private_modules(domain: str) -> list[str]:
    public = PUBLIC | PUBLIC_EXTRA.get(domain, frozenset())
    return [f"engage.{domain}.{child}" for child in children(domain) if child not in public]


def expected_contracts() -> list[dict[str, Any]]:
    contracts: list[dict[str, Any]] = []
    others = [name for name in top_level() if name not in COMPOSITION_ROOTS]
    with_repository = [d for d in domains() if "repository" in children(d)]
    for domain in domains():
        contracts.append(
            {
                "name": f"engage.{domain} is used through its public modules only",
                "type": "forbidden",
                "source_modules": [f"engage.{name}" for name in others if name != domain],
                "forbidden_modules": private_modules(domain),
                "allow_indirect_imports": True,
            }
        )
        if "models" in children(domain):
            contract: dict[str, Any] = {
                "name": f"engage.{domain}'s tables are queried by its own repository only",
                "type": "forbidden",
                "source_modules": [f"engage.{d}.repository" for d in with_repository if d != domain],
                "forbidden_modules": [f"engage.{domain}.models"],
                "allow_indirect_imports": True,
            }
            if domain in MODELS_IGNORES:
                contract["ignore_imports"] = MODELS_IGNORES[domain]
            contracts.append(contract)
    return contracts


def _declared() -> list[dict[str, Any]]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        contracts: list[dict[str, Any]] = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    return contracts


def _toml(contract: dict[str, Any]) -> str:
    lines = ["[[tool.importlinter.contracts]]"]
    for key, value in contract.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, list):
            lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines)


def _comparable(contract: dict[str, Any]) -> dict[str, Any]:
    return {key: sorted(value) if isinstance(value, list) else value for key, value in contract.items()}


def test_every_domain_package_has_its_generated_contracts_in_pyproject() -> None:
    declared = {contract["name"]: _comparable(contract) for contract in _declared()}
    wrong = [c for c in expected_contracts() if declared.get(c["name"]) != _comparable(c)]
    assert not wrong, "pyproject.toml must hold these contracts as generated:\n\n" + "\n\n".join(map(_toml, wrong))


def test_every_domain_package_is_in_the_layers_contract() -> None:
    [layers] = [c for c in _declared() if c["type"] == "layers" and c.get("containers") == ["engage"]]
    placed = {name.strip() for layer in layers["layers"] for name in re.split(r"[|:]", layer)}
    exempt = set(layers.get("exhaustive_ignores", []))
    assert layers.get("exhaustive") is True
    assert exempt == (COMPOSITION_ROOTS | SHARED) & set(top_level())
    assert set(domains()) <= placed


def owned_tables() -> dict[str, str]:
    """Table name → the domain whose models.py declares it."""
    owners: dict[str, str] = {}
    for domain in domains():
        models = PACKAGE / domain / "models.py"
        if models.exists():
            for name in re.findall(r'__tablename__\s*=\s*"(\w+)"', models.read_text()):
                owners[name] = domain
    return owners


def _sql_strings(path: Path) -> list[str]:
    """String literals passed to `text(...)` or `table(...)`: where raw SQL names tables."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in {
            "text",
            "table",
        }:
            found += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return found


def test_no_module_names_another_domains_table_in_raw_sql() -> None:
    owners = owned_tables()
    found: set[tuple[str, str]] = set()
    for domain in domains():
        for path in (PACKAGE / domain).rglob("*.py"):
            module = "engage." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
            for sql in _sql_strings(path):
                for table, owner in owners.items():
                    named = re.search(rf"(?:^|\bFROM|\bJOIN|\bINTO|\bUPDATE)\s*{table}\b", sql, re.IGNORECASE)
                    if owner != domain and (sql == table or named):
                        found.add((module, table))
    assert found <= RAW_SQL_EXEMPTIONS, sorted(found - RAW_SQL_EXEMPTIONS)


if __name__ == "__main__":
    print("\n\n".join(map(_toml, expected_contracts())))  # noqa: T201 - the text to paste into pyproject.toml
