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

ENTRY, COMMANDS, TOOLS, CORE, LEAVES = 5, 4, 3, 2, 1
TIERS = {
    # entry points: what users call
    "__init__": ENTRY, "__main__": ENTRY, "cli": ENTRY, "testing": ENTRY,
    "pytest_plugin": ENTRY, "pytest_plans": ENTRY,
    # commands: one function per command, where tools are wired together
    "commands": COMMANDS,
    # tools
    "explain": TOOLS, "doctor": TOOLS, "bench": TOOLS, "advisor": TOOLS, "capture": TOOLS,
    "trace": TOOLS, "stats": TOOLS, "fleet": TOOLS, "design": TOOLS,
    # shared core
    "checks": CORE, "plan": CORE, "results": CORE, "workload": CORE, "migrations": CORE,
    "catalog": CORE, "pool": CORE, "reference": CORE, "db": CORE, "query": CORE,
    "config": CORE,
    # leaves: pure helpers that import no other piece but leaves
    "sql": LEAVES, "files": LEAVES, "errors": LEAVES, "registry": LEAVES, "db.dsn": LEAVES,
}  # fmt: skip

CLI_MAY_IMPORT = {"cli", "commands"}
"""Besides these, the CLI imports the core and the leaves (renderers, errors, the config), but
never a tool: what a command does is in :mod:`dbtune.commands`, callable from Python."""

ROOT_MODULES_MAX = 10


def _imports(path: Path) -> Iterator[tuple[str, str]]:
    """(imported piece, imported name) for every ``dbtune`` import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dbtune"):
            parts = node.module.split(".")
            for alias in node.names:
                names = [*parts[1:], alias.name]
                yield _piece(".".join(names)), ".".join(names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dbtune."):
                    names = alias.name.split(".")[1:]
                    yield _piece(".".join(names)), ".".join(names)


def _piece(dotted: str) -> str:
    """The piece a dotted name (below ``dbtune``) belongs to: a sub-piece with a tier of its
    own (``db.dsn``) or its top-level package or module."""
    parts = dotted.split(".")
    two = ".".join(parts[:2])
    return two if two in TIERS else parts[0]


def _modules() -> list[tuple[str, Path]]:
    return sorted(
        (_piece(".".join(path.relative_to(SRC).with_suffix("").parts)), path)
        for path in SRC.rglob("*.py")
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
        if piece == "cli":
            assert target in CLI_MAY_IMPORT or TIERS[target] <= CORE, (
                f"{path.name}: the CLI imports the tool {target}; call a command instead"
            )
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


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_module_graph_has_no_circle() -> None:
    """Inside a tier too: modules that need each other, however far round, are one concept
    split wrong (or a third module they should share)."""
    assert _cycles(_module_graph()) == []


def test_the_root_lists_only_the_public_face_and_a_few_modules() -> None:
    """A newcomer reads the tiers off the folder listing: the rest lives in packages."""
    modules = sorted(p.name for p in SRC.glob("*.py"))
    assert len(modules) <= ROOT_MODULES_MAX, modules


FUNCTION_LINES_MAX = 50


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


PARAMETERS_MAX = 6
PUBLIC_MODULES = ("migrations", "testing")
"""Their ``__all__`` is dbtune's public API: helpers shaped like Alembic's op functions, whose
options are keyword-only arguments, the way ``op.create_index`` takes them."""


def _public_functions() -> set[str]:
    names: set[str] = set()
    for module in PUBLIC_MODULES:
        path = SRC / module / "__init__.py" if (SRC / module).is_dir() else SRC / f"{module}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                elements = getattr(node.value, "elts", ())
                names |= {str(e.value) for e in elements if isinstance(e, ast.Constant)}
    return names


def test_no_function_takes_more_than_six_parameters() -> None:
    """More than six is an options record waiting to be written; the public helpers may take
    more, as keyword-only options (their first six are what a call spells positionally)."""
    public = _public_functions()
    many = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            args = node.args
            positional = [a.arg for a in (*args.posonlyargs, *args.args)]
            if positional[:1] in (["self"], ["cls"]):
                positional = positional[1:]
            count = len(positional) + len(args.kwonlyargs) + bool(args.vararg) + bool(args.kwarg)
            allowed = node.name in public and len(positional) <= PARAMETERS_MAX
            if count > PARAMETERS_MAX and not allowed:
                many.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({count})")
    assert many == [], many
