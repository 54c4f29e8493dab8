"""The package picture of docs/architecture.md, enforced: imports go one way only.

Each top-level piece of ``dbtune`` has a tier; a module may import its own piece and pieces of
a lower tier, tools never import each other, and nothing imports another package's ``_private``
name. A new module must be given a tier here, which is where its place gets decided.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "dbtune"

ENTRY, TOOLS, CORE, LEAVES = 4, 3, 2, 1
TIERS = {
    # entry points: what users call
    "__init__": ENTRY, "__main__": ENTRY, "cli": ENTRY, "testing": ENTRY,
    "pytest_plugin": ENTRY, "pytest_plans": ENTRY, "advise": ENTRY,
    # tools
    "explain": TOOLS, "doctor": TOOLS, "bench": TOOLS, "advisor": TOOLS, "capture": TOOLS,
    "trace": TOOLS, "stats": TOOLS, "fleet": TOOLS,
    # shared core
    "checks": CORE, "plan": CORE, "results": CORE, "workload": CORE, "migrations": CORE,
    "catalog": CORE, "pool": CORE, "sizing": CORE, "cpus": CORE, "seed": CORE,
    "reference_schema": CORE, "demo": CORE, "revision_file": CORE,
    "embedded": CORE, "db": CORE, "sargable": CORE, "advice": CORE,
    "query_facts": CORE, "config": CORE,
    # leaves: pure helpers that import no other piece but leaves
    "index_spec": LEAVES, "sqltext": LEAVES, "query_shape": LEAVES, "identifiers": LEAVES,
    "junit": LEAVES, "dsn": LEAVES, "errors": LEAVES, "helper_calls": LEAVES,
    "registry": LEAVES, "json_file": LEAVES,
}  # fmt: skip


def _imports(path: Path) -> Iterator[tuple[str, str]]:
    """(imported piece, imported name) for every ``dbtune`` import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dbtune"):
            parts = node.module.split(".")
            for alias in node.names:
                names = [*parts[1:], alias.name]
                yield names[0], ".".join(names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dbtune."):
                    names = alias.name.split(".")[1:]
                    yield names[0], ".".join(names)


def _modules() -> list[tuple[str, Path]]:
    return sorted(
        (path.relative_to(SRC).parts[0].removesuffix(".py"), path) for path in SRC.rglob("*.py")
    )


def test_every_piece_has_a_tier() -> None:
    pieces = {piece for piece, _ in _modules()} - {"workloads"}
    assert pieces <= set(TIERS), sorted(pieces - set(TIERS))


@pytest.mark.parametrize(("piece", "path"), _modules(), ids=lambda v: str(v))
def test_imports_go_down_only(piece: str, path: Path) -> None:
    if piece not in TIERS:
        return
    for target, name in _imports(path):
        if target == piece or target not in TIERS:
            continue
        assert TIERS[target] <= TIERS[piece], f"{path.name}: {piece} imports up into {target}"
        if TIERS[piece] == TOOLS:
            assert TIERS[target] < TOOLS, f"{path.name}: tool {piece} imports tool {target}"
        private = [p for p in name.split(".")[1:] if p.startswith("_") and p != "__init__"]
        assert not private, f"{path.name} imports the private {name} of {target}"


def _module_graph() -> dict[str, set[str]]:
    """Each module of ``dbtune`` and the modules of ``dbtune`` it imports (anywhere in it)."""
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if isinstance(node, ast.ImportFrom) and module and module.startswith("dbtune"):
                for alias in node.names:
                    full = f"{module}.{alias.name}"
                    found.add(full if full in modules else module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("dbtune")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_two_modules_import_each_other() -> None:
    """Inside a tier too: two modules that need each other are one concept split wrong (or a
    third module they should share)."""
    graph = _module_graph()
    mutual = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph[b]})
    assert mutual == [], mutual


FUNCTION_LINES_MAX = 60


def test_no_function_is_longer_than_a_screen() -> None:
    """A newcomer reads a function at a time: split by step, not by size."""
    long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > FUNCTION_LINES_MAX:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({lines})")
    assert long == [], long
