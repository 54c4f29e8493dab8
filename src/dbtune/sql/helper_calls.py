"""The Python call of an online helper, as dbtune prints it: in messages (the advisor's
suggestion, the safer way of a ``dbtune trace`` finding, the autogenerate hook) and in the
revision files dbtune writes (the advisor's, doctor's) — one spelling of the arguments for
all, with every name passed exactly as the catalog holds it. A leaf: it imports no Alembic,
so explain's start-up does not pay for it.

A :class:`HelperCall` renders two ways: :meth:`HelperCall.text`, one line in ``repr`` style,
for a message; and :meth:`HelperCall.code`, a statement laid out the way ``ruff format`` (and
black) would lay it out at their default line length, so a written revision passes ``ruff
format --check`` under a project's own configuration and under none: double quotes unless
single ones need fewer escapes, one line when it fits 88 columns, otherwise one argument per
line with a trailing comma (which keeps it so at any line length), a string too long even for
that split into parts.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import SortByDir
from pglast.stream import RawStream

from dbtune.sql.index_spec import IndexKey, IndexSpec

CODE_LINE = 88
"""ruff format's and black's default line length."""
LONG_LINE = 100
"""A string argument whose line would pass this is split into implicitly concatenated parts
(``E501`` at 100 in many projects; a ``noqa`` would be flagged unused where it is off)."""

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def py_literal(value: object) -> str:
    """``value`` (str, bool, int, None, an :class:`IndexKey`, or a list/tuple of them) as
    Python source, quoted the way ruff format quotes it."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, IndexKey):
        fields = value.given().items()
        return f"IndexKey({', '.join(f'{k}={py_literal(v)}' for k, v in fields)})"
    if isinstance(value, str):
        quote = "'" if value.count('"') > value.count("'") else '"'
        body = "".join(_ESCAPES.get(c, "\\" + c if c == quote else c) for c in value)
        return f"{quote}{body}{quote}"
    return repr(value)


def wrapped(lines: Sequence[str], width: int = 93) -> list[str]:
    """Docstring lines wrapped at ``width`` (the opening quotes share the first line: 93 keeps
    every line within 96), each line's indentation kept on the lines it wraps onto; a word
    longer than the width (a path) stays whole."""
    out: list[str] = []
    for line in "\n".join(lines).splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        out += textwrap.wrap(
            line, width, subsequent_indent=indent + ("  " if line.strip() else ""),
            break_on_hyphens=False, break_long_words=False,
        ) or [""]  # fmt: skip
    return out


def _split_string(value: str, indent: str) -> list[str]:
    """A long string as implicitly concatenated parts, one per line, each within 88 columns:
    its one-line form passes 100, so ruff format keeps the parts apart under any line length
    up to 100 (and E501 has nothing to say)."""
    room = CODE_LINE - len(indent) - 3  # the quotes and the comma
    parts: list[str] = []
    current = ""
    for word in value.split(" "):
        piece = word if not current else f"{current} {word}"
        if current and len(py_literal(piece + " ")) > room:
            parts.append(current + " ")
            current = word
        else:
            current = piece
    parts.append(current)
    return [f"{indent}{py_literal(p)}" for p in parts]


def code_call(func: str, args: Sequence[str | tuple[str, str]], indent: str = "    ") -> str:
    """``func(args)`` as a statement at ``indent``: one line when it fits, else exploded. An
    argument is rendered source, or ``("str", value)`` for a string that may need splitting."""
    rendered = [a if isinstance(a, str) else py_literal(a[1]) for a in args]
    one_line = f"{indent}{func}({', '.join(rendered)})"
    if len(one_line) <= CODE_LINE:
        return one_line
    inner = indent + "    "
    lines = [f"{indent}{func}("]
    for arg, text in zip(args, rendered, strict=True):
        if not isinstance(arg, str) and len(f"{inner}{text},") > LONG_LINE:
            split = _split_string(arg[1], inner)
            lines += [*split[:-1], split[-1] + ","]
        else:
            lines.append(f"{inner}{text},")
    lines.append(f"{indent})")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class HelperCall:
    """One call of an online helper: its name, positional and keyword arguments, and the call
    that undoes it exactly (None where nothing written here can)."""

    func: str
    args: tuple[object, ...] = ()
    kwargs: tuple[tuple[str, object], ...] = ()
    undo: HelperCall | None = field(default=None, compare=False, repr=False)

    def text(self) -> str:
        """One line, ``repr`` style: how a message shows it."""
        parts = [repr(list(a) if isinstance(a, tuple) else a) for a in self.args]
        parts += [f"{k}={list(v) if isinstance(v, tuple) else v!r}" for k, v in self.kwargs]
        return f"{self.func}({', '.join(parts)})"

    def code(self, indent: str = "    ") -> str:
        """A statement as ``ruff format`` would lay it out (see the module)."""
        parts: list[str | tuple[str, str]] = [
            ("str", a) if isinstance(a, str) else py_literal(a) for a in self.args
        ]
        parts += [f"{k}={py_literal(v)}" for k, v in self.kwargs]
        return code_call(self.func, parts, indent)

    def names(self) -> set[str]:
        """What a revision must import from ``dbtune.migrations`` to make this call."""
        keys = any(isinstance(v, IndexKey) for a in self.args if isinstance(a, tuple) for v in a)
        return {self.func, "IndexKey"} if keys else {self.func}


def _key_arg(key: IndexKey) -> str | IndexKey:
    """A plain column as the string ``create_index_online`` reads, any other key as itself."""
    if key.plain:
        return f"{key.column} DESC" if key.descending else key.column
    return key


def create_index(
    spec: IndexSpec, schema: str | None = None, *, allow_wide: bool = False
) -> HelperCall:
    """``create_index_online(...)`` building ``spec``; its undo drops it."""
    kwargs: list[tuple[str, object]] = []
    if spec.include:
        kwargs.append(("include", tuple(spec.include)))
    if spec.where is not None:
        kwargs.append(("where", spec.where))
    if spec.unique:
        kwargs.append(("unique", True))
    if spec.method != "btree":
        kwargs.append(("method", spec.method))
    if schema:
        kwargs.append(("schema", schema))
    if allow_wide:
        kwargs.append(("allow_wide", True))
    columns = tuple(_key_arg(k) for k in spec.keys)
    undo = drop_index(spec.name, spec.table, schema=schema)
    return HelperCall("create_index_online", (spec.name, spec.table, columns), tuple(kwargs), undo)


def drop_index(
    name: str, table: str, *, schema: str | None = None, recreate: IndexSpec | None = None
) -> HelperCall:
    """``drop_index_online(...)``; given the index as the catalog has it (``recreate``), its
    undo builds it again exactly (``allow_wide``: it existed, the width guard has no say)."""
    undo = create_index(recreate, schema, allow_wide=True) if recreate is not None else None
    kwargs = (("schema", schema),) if schema else ()
    return HelperCall("drop_index_online", (name, table), kwargs, undo)


def index_stmt(node: ast.IndexStmt) -> HelperCall | None:
    """The ``create_index_online(...)`` call for a parsed ``CREATE INDEX``, or None when the
    helper cannot say the same thing (an expression, an operator class, a collation, NULLS
    order, a method other than btree)."""
    columns = []
    for elem in node.indexParams or ():
        if (
            not isinstance(elem, ast.IndexElem)
            or elem.name is None
            or elem.opclass
            or elem.collation
            or elem.nulls_ordering
        ):
            return None
        desc = " DESC" if elem.ordering == SortByDir.SORTBY_DESC else ""
        columns.append(f"{elem.name}{desc}")
    relation = node.relation
    if relation is None or (node.accessMethod or "btree") != "btree":
        return None
    include = [str(e.name) for e in node.indexIncludingParams or () if isinstance(e, ast.IndexElem)]
    where = str(RawStream()(node.whereClause)) if node.whereClause is not None else None
    schema = str(relation.schemaname) if relation.schemaname else None
    try:
        name, table = str(node.idxname or "name"), str(relation.relname)
        unique = bool(node.unique)
        spec = IndexSpec.build(name, table, columns, include=include, where=where, unique=unique)
    except ValueError:
        return None
    return create_index(spec, schema)
