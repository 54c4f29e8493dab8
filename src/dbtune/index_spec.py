"""What an index should be, what the catalog says it is, and whether it fits a btree page.

Pure code (no IO) so the decisions the migration helper makes — same definition or not, too
wide or not — are unit-tested without a server.

A btree entry larger than 2704 bytes (a third of an 8 kB page, minus overhead) is an ERROR at
INSERT time, not a warning. Unbounded columns (``text``, ``jsonb``, ``bytea``, ``varchar`` without
a length) can reach that limit with one long row, and TOAST compresses values before they enter
the index only as far as they compress: random text does not. So an index may hold only columns
whose widest value is known: fixed-width types, ``varchar(n)``, or ``text`` bounded by a
validated ``CHECK (char_length(col) <= n)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BTREE_MAX_ENTRY_BYTES = 2704
INDEX_TUPLE_HEADER_BYTES = 8
ALIGNMENT_SLACK_BYTES = 8  # per column, worst case
MAX_BYTES_PER_CHAR = 4  # UTF-8
VARLENA_HEADER_BYTES = 4


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """An index as a revision asks for it."""

    name: str
    table: str
    columns: tuple[tuple[str, bool], ...]  # (column or expression, descending)
    include: tuple[str, ...] = ()
    where: str | None = None
    unique: bool = False

    @classmethod
    def build(
        cls,
        name: str,
        table: str,
        columns: Sequence[str],
        *,
        include: Sequence[str] = (),
        where: str | None = None,
        unique: bool = False,
    ) -> IndexSpec:
        for identifier in (name, table, *include):
            check_identifier(identifier)
        return cls(
            name, table, tuple(parse_column(c) for c in columns), tuple(include), where, unique
        )

    def sql(self) -> str:
        """The definition in ``pg_get_indexdef`` style, for messages."""
        cols = ", ".join(f"{c} DESC" if desc else c for c, desc in self.columns)
        text = (
            f"CREATE {'UNIQUE ' if self.unique else ''}INDEX {self.name} ON {self.table} ({cols})"
        )
        if self.include:
            text += f" INCLUDE ({', '.join(self.include)})"
        if self.where:
            text += f" WHERE {self.where}"
        return text


@dataclass(frozen=True, slots=True)
class ExistingIndex:
    """An index as ``pg_index`` describes it."""

    name: str
    table: str
    valid: bool
    unique: bool
    key_columns: tuple[tuple[str, bool], ...]
    include: tuple[str, ...]
    predicate: str | None
    definition: str


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def check_identifier(name: str) -> str:
    """Refuse a table, index or column name that would need quoting in generated SQL."""
    if not _IDENTIFIER.match(name):
        raise ValueError(
            f"{name!r} is not a plain SQL identifier (letters, digits, _; at most 63 characters)"
        )
    return name


def parse_column(spec: str) -> tuple[str, bool]:
    """``"created_at DESC"`` -> ``("created_at", True)``; ``"user_id"`` -> ``(..., False)``."""
    text = spec.strip()
    match = re.fullmatch(r"(.+?)\s+(ASC|DESC)", text, re.IGNORECASE)
    if match:
        return match.group(1).strip(), match.group(2).upper() == "DESC"
    return text, False


def _normal_predicate(text: str | None) -> str:
    return re.sub(r"[\s()]", "", text or "").lower()


def differences(wanted: IndexSpec, existing: ExistingIndex) -> list[str]:
    """What differs between the wanted and the existing index; empty when they match."""
    found = []
    if wanted.table != existing.table:
        found.append(f"table {existing.table} instead of {wanted.table}")
    if wanted.columns != existing.key_columns:
        found.append("key columns")
    if wanted.include != existing.include:
        found.append("INCLUDE columns")
    if wanted.unique != existing.unique:
        found.append("uniqueness")
    if _normal_predicate(wanted.where) != _normal_predicate(existing.predicate):
        found.append("WHERE predicate")
    return found


@dataclass(frozen=True, slots=True)
class ColumnType:
    """What the catalog says about a column's width."""

    name: str
    type_name: str  # format_type(), e.g. "text", "character varying(64)", "bigint"
    fixed_length: int  # pg_type.typlen: > 0 fixed width, -1 varlena, -2 cstring
    max_chars: int | None = None  # varchar(n)/char(n) length, or a validated CHECK bound


def max_width(column: ColumnType) -> int | None:
    """The widest value this column can put in an index entry, or None when unbounded."""
    if column.fixed_length > 0:
        return column.fixed_length
    if column.max_chars is not None:
        return column.max_chars * MAX_BYTES_PER_CHAR + VARLENA_HEADER_BYTES
    return None


_LENGTH_CHECK = re.compile(
    r"^CHECK \(+\s*(?:char_length|length|character_length)\(\(?(?P<col>\w+)\)?(?:::text)?\)"
    r"\s*<=\s*(?P<n>\d+)\s*\)+$",
    re.IGNORECASE,
)


def length_bound(check_definition: str) -> tuple[str, int] | None:
    """``CHECK ((char_length(role) <= 32))`` -> ``("role", 32)``; anything else -> None."""
    match = _LENGTH_CHECK.match(check_definition.strip())
    if match is None:
        return None
    return match.group("col"), int(match.group("n"))


def width_problem(spec: IndexSpec, columns: Mapping[str, ColumnType]) -> str | None:
    """Why ``spec`` could make an INSERT fail on a too-wide btree entry, or None when it can't."""
    names = [c for c, _ in spec.columns] + list(spec.include)
    unbounded = [
        f"{n} ({columns[n].type_name})"
        for n in names
        if n in columns and max_width(columns[n]) is None
    ]
    if unbounded:
        return (
            f"index {spec.name} would hold unbounded column(s) {', '.join(unbounded)}: a btree "
            f"entry over {BTREE_MAX_ENTRY_BYTES} bytes makes the INSERT fail, and one long, "
            "poorly compressible value is enough. Leave the column out (fetch it from the "
            "table), bound it with CHECK (char_length(col) <= n), or pass allow_wide=True if "
            "you know every value stays small"
        )
    widths = [max_width(columns[n]) or 0 for n in names if n in columns]
    total = INDEX_TUPLE_HEADER_BYTES + sum(w + ALIGNMENT_SLACK_BYTES for w in widths)
    if total > BTREE_MAX_ENTRY_BYTES:
        return (
            f"index {spec.name} entries can reach {total} bytes, over the btree limit of "
            f"{BTREE_MAX_ENTRY_BYTES}: narrow the columns or pass allow_wide=True"
        )
    return None
