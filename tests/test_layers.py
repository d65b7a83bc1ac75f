"""Layers point one way: gold reads silver and gold tables only, never a bronze table or a source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipelines import tables
from pipelines.tables import TableSpec
from tests.conftest import REPO

GOLD = sorted((REPO / "pipelines" / "gold").glob("*.py"))
BRONZE_TABLES = {name for name, spec in vars(tables).items() if isinstance(spec, TableSpec) and spec.layer == "bronze"}
# Packages that land or fetch: a module of theirs imported anywhere in gold would read below silver.
BELOW_SILVER = ("pipelines.bronze", "pipelines.sources")


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            modules.add(base)
            modules |= {f"{base}.{alias.name}" for alias in node.names}
    return modules


def _bronze_references(path: Path) -> list[str]:
    """The bronze table contracts a file takes from `pipelines.tables`, and `bronze` layer strings it uses."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # Names bound to the tables module itself: `from pipelines import tables`, `import pipelines.tables as t`.
    aliases = {"pipelines.tables"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "pipelines":
            aliases |= {alias.asname or alias.name for alias in node.names if alias.name == "tables"}
        elif isinstance(node, ast.Import):
            aliases |= {alias.asname for alias in node.names if alias.name == "pipelines.tables" and alias.asname}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "pipelines.tables":
            found += [alias.name for alias in node.names if alias.name in BRONZE_TABLES]
        elif isinstance(node, ast.Attribute) and node.attr in BRONZE_TABLES and ast.unparse(node.value) in aliases:
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Constant) and str(node.value).split(".")[0] == "bronze":
            found.append(repr(node.value))
    return found


def _module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_the_layer_check_sees_a_bronze_read() -> None:
    """The checks below would catch what gold did before silver kept the superseded legacy rows."""
    reaching = REPO / "pipelines" / "silver" / "refresh.py"
    assert "LEGACY_USAGE" in _bronze_references(reaching)
    assert "pipelines.silver.refresh" in _imported_modules(REPO / "pipelines" / "runner.py")


@pytest.mark.parametrize("path", GOLD, ids=lambda path: path.name)
def test_gold_imports_nothing_from_bronze_or_sources(path: Path) -> None:
    modules = _imported_modules(path)
    assert not [m for m in modules if m.startswith(BELOW_SILVER)]
    assert _bronze_references(path) == []


def test_the_project_modules_gold_imports_read_no_bronze_table() -> None:
    """A silver helper that reads bronze (silver's refresh) would let gold reach past silver through it."""
    modules = {m for path in GOLD for m in _imported_modules(path) if m.startswith("pipelines.")}
    files = {_module_file(m) for m in modules} - {None, REPO / "pipelines" / "tables.py", *GOLD}
    helpers = sorted(f for f in files if f is not None)
    assert REPO / "pipelines" / "incremental.py" in helpers  # the check does look past gold
    for helper in helpers:
        assert not [m for m in _imported_modules(helper) if m.startswith(BELOW_SILVER)], helper
        assert _bronze_references(helper) == [], helper
