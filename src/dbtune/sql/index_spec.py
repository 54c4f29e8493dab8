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
from typing import TypedDict

from psycopg import sql
from typing_extensions import Unpack

from dbtune.sql.identifiers import ident
from dbtune.sql.text import expression_key, one_expression, same_expression

BTREE_MAX_ENTRY_BYTES = 2704
INDEX_TUPLE_HEADER_BYTES = 8
ALIGNMENT_SLACK_BYTES = 8  # per column, worst case
MAX_BYTES_PER_CHAR = 4  # UTF-8
VARLENA_HEADER_BYTES = 4


class IndexOptions(TypedDict, total=False):
    """The optional parts of an index, as ``create_index_online`` takes them."""

    include: Sequence[str]
    where: str | None
    unique: bool
    method: str


@dataclass(frozen=True, slots=True, repr=False)
class IndexKey:
    """One key of an index beyond a plain column name: an expression, a NULLS order, a
    collation or an operator class (``create_index_online`` takes these beside plain names,
    so an index the catalog holds can be written back exactly).

    ``column`` is a name as the catalog spells it; ``expression`` is SQL, parsed and refused
    unless it is one expression. ``collation`` and ``opclass`` are names, ``schema.name``
    outside ``pg_catalog``; ``nulls_first`` None keeps the direction's default.
    """

    column: str = ""
    expression: str = ""
    descending: bool = False
    nulls_first: bool | None = None
    collation: str | None = None
    opclass: str | None = None

    def __post_init__(self) -> None:
        if bool(self.column) == bool(self.expression):
            raise ValueError("a key is a column or an expression, not both and not neither")
        if self.column:
            check_identifier(self.column)
        else:
            expression_key(self.expression)  # one expression, or SqlTextError
        for name in (self.collation, self.opclass):
            if name is not None:
                for part in name.split(".", 1):
                    check_identifier(part)

    def given(self) -> dict[str, object]:
        """The fields that differ from the defaults: what a message or a revision says."""
        fields = {
            "column": self.column or None,
            "expression": self.expression or None,
            "descending": self.descending or None,
            "nulls_first": self.nulls_first,
            "collation": self.collation,
            "opclass": self.opclass,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def __repr__(self) -> str:
        return f"IndexKey({', '.join(f'{k}={v!r}' for k, v in self.given().items())})"

    @property
    def name(self) -> str:
        """The column, or the expression in parentheses (never equal to a column name)."""
        return self.column or f"({self.expression})"

    @property
    def plain(self) -> bool:
        """A bare column, ASC or DESC: what a string in ``columns`` says."""
        return (
            bool(self.column)
            and self.nulls_first in (None, self.descending)
            and (self.collation is None and self.opclass is None)
        )

    def element(self) -> sql.Composable:
        """The key as ``CREATE INDEX`` lists it, every name quoted."""
        parts: list[sql.Composable] = [
            ident(self.column)
            if self.column
            else sql.SQL("({})").format(sql.SQL(one_expression(self.expression)))
        ]
        if self.collation is not None:
            parts.append(sql.SQL("COLLATE {}").format(ident(*self.collation.split(".", 1))))
        if self.opclass is not None:
            parts.append(ident(*self.opclass.split(".", 1)))
        if self.descending:
            parts.append(sql.SQL("DESC"))
        if self.nulls_first is not None and self.nulls_first != self.descending:
            parts.append(sql.SQL("NULLS FIRST" if self.nulls_first else "NULLS LAST"))
        return sql.SQL(" ").join(parts)

    def same_as(self, other: IndexKey) -> bool:
        """The same key: the same column (or an expression of the same tree), direction,
        NULLS order, collation and operator class."""
        if self.column or other.column:
            same = self.column == other.column
        else:
            same = expression_key(self.expression) == expression_key(other.expression)
        return same and (self.descending, self.collation, self.opclass, self._nulls_first()) == (
            other.descending,
            other.collation,
            other.opclass,
            other._nulls_first(),
        )

    def _nulls_first(self) -> bool:
        return self.descending if self.nulls_first is None else self.nulls_first


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """An index as a revision asks for it."""

    name: str
    table: str
    keys: tuple[IndexKey, ...]
    include: tuple[str, ...] = ()
    where: str | None = None
    unique: bool = False
    method: str = "btree"

    @property
    def columns(self) -> tuple[tuple[str, bool], ...]:
        """(column, or expression in parentheses; descending) per key."""
        return tuple((k.name, k.descending) for k in self.keys)

    @property
    def plain(self) -> bool:
        """Bare columns on a btree: what the width guard and the advisor reason about."""
        return self.method == "btree" and all(k.plain for k in self.keys)

    @classmethod
    def build(
        cls,
        name: str,
        table: str,
        columns: Sequence[str | IndexKey],
        **options: Unpack[IndexOptions],
    ) -> IndexSpec:
        """Validate the names and parse ``"col DESC"``; ``options`` as the dataclass fields."""
        include = tuple(options.get("include", ()))
        for identifier in (name, table, *include):
            check_identifier(identifier)
        keys = tuple(c if isinstance(c, IndexKey) else _key(c) for c in columns)
        method = options.get("method", "btree")
        check_identifier(method)
        return cls(name, table, keys, include, options.get("where"),
                   options.get("unique", False), method)  # fmt: skip

    def statement(
        self, schema: str | None = None, *, concurrently: bool = False, if_not_exists: bool = False
    ) -> sql.Composed:
        """``CREATE INDEX``, every name quoted; ``where`` is SQL the author wrote."""
        parts: list[sql.Composable] = [
            sql.SQL("CREATE UNIQUE INDEX" if self.unique else "CREATE INDEX")
        ]
        if concurrently:
            parts.append(sql.SQL("CONCURRENTLY"))
        if if_not_exists:
            parts.append(sql.SQL("IF NOT EXISTS"))
        table = ident(*([schema] if schema else []), self.table)
        keys = sql.SQL(", ").join(k.element() for k in self.keys)
        parts.append(sql.SQL("{} ON {}").format(ident(self.name), table))
        if self.method != "btree":
            parts.append(sql.SQL("USING {}").format(ident(self.method)))
        parts.append(sql.SQL("({})").format(keys))
        if self.include:
            parts.append(
                sql.SQL("INCLUDE ({})").format(sql.SQL(", ").join(ident(c) for c in self.include))
            )
        if self.where:
            parts.append(sql.SQL("WHERE {}").format(sql.SQL(self.where)))
        return sql.SQL(" ").join(parts)

    def sql(self, schema: str | None = None) -> str:
        """The definition in ``pg_get_indexdef`` style, for messages."""
        return self.statement(schema).as_string()


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
    method: str = "btree"
    default_opclasses: bool = True
    keys: tuple[IndexKey, ...] = ()  # each key exactly, when the catalog was read for them


MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names silently


def check_identifiers(*names: str | None) -> None:
    """:func:`check_identifier` for each name given (``None``, an absent schema, is skipped)."""
    for name in names:
        if name is not None:
            check_identifier(name)


def check_identifier(name: str) -> str:
    """Refuse a name PostgreSQL would not keep as given: empty, NUL, or over 63 bytes.

    Any other name is fine — mixed case, spaces, quotes — because every statement quotes it.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"{name!r} is not a usable SQL identifier")
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ValueError(
            f"{name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes; PostgreSQL would truncate it"
        )
    return name


def _key(text: str) -> IndexKey:
    column, descending = parse_column(text)
    return IndexKey(column, descending=descending)


def parse_column(spec: str) -> tuple[str, bool]:
    """``"createdAt DESC"`` -> ``("createdAt", True)``; ``"user_id"`` -> ``(..., False)``.

    The name is a column name exactly as the catalog spells it (case kept, quoted when used).
    """
    text = spec.strip()
    match = re.fullmatch(r"(.+?)\s+(ASC|DESC)", text, re.IGNORECASE)
    if match:
        return check_identifier(match.group(1).strip()), match.group(2).upper() == "DESC"
    return check_identifier(text), False


def differences(wanted: IndexSpec, existing: ExistingIndex) -> list[str]:
    """What differs between the wanted and the existing index; empty when they match."""
    found = []
    if wanted.table != existing.table:
        found.append(f"table {existing.table} instead of {wanted.table}")
    if existing.keys:
        same = len(wanted.keys) == len(existing.keys) and all(
            w.same_as(e) for w, e in zip(wanted.keys, existing.keys, strict=False)
        )
        if not same:
            found.append("key columns")
    elif wanted.columns != existing.key_columns:
        found.append("key columns")
    if wanted.include != existing.include:
        found.append("INCLUDE columns")
    if wanted.unique != existing.unique:
        found.append("uniqueness")
    if existing.method != wanted.method:
        found.append(f"access method {existing.method} instead of {wanted.method}")
    if not existing.keys and not existing.default_opclasses:
        found.append("operator classes")
    if not same_expression(wanted.where, existing.predicate):
        found.append("WHERE predicate")
    return found


@dataclass(frozen=True, slots=True)
class ColumnType:
    """What the catalog says about a column's width."""

    name: str
    type_name: str  # format_type(), e.g. "text", "character varying(64)", "bigint"
    fixed_length: int  # pg_type.typlen: > 0 fixed width, -1 varlena, -2 cstring
    max_chars: int | None = None  # varchar(n)/char(n) length, or a validated CHECK bound
    max_bytes: int | None = None  # a bound from the type itself, e.g. numeric(p, s)


def max_width(column: ColumnType) -> int | None:
    """The widest value this column can put in an index entry, or None when unbounded."""
    if column.fixed_length > 0:
        return column.fixed_length
    if column.max_chars is not None:
        return column.max_chars * MAX_BYTES_PER_CHAR + VARLENA_HEADER_BYTES
    return column.max_bytes


NUMERIC_HEADER_BYTES = 4  # sign, display scale and weight, after the varlena header
NUMERIC_DIGIT_BYTES = 2  # one base-10000 digit
VARLENA_TYPMOD_OFFSET = 4  # typmods of varchar/char/numeric carry this offset


def typmod_bounds(typname: str, typmod: int) -> tuple[int | None, int | None]:
    """(max characters, max bytes) a type's modifier implies: ``varchar(n)``/``char(n)``
    bound the characters, ``numeric(p, s)`` the bytes; other types, or no typmod, neither."""
    if typmod <= VARLENA_TYPMOD_OFFSET:
        return None, None
    if typname in ("varchar", "bpchar"):
        return typmod - VARLENA_TYPMOD_OFFSET, None
    if typname == "numeric":
        precision = ((typmod - VARLENA_TYPMOD_OFFSET) >> 16) & 0xFFFF
        # base-10000 digits: the integer and fraction parts round up separately, plus one
        digits = -(-precision // 4) + 2
        return None, VARLENA_HEADER_BYTES + NUMERIC_HEADER_BYTES + digits * NUMERIC_DIGIT_BYTES
    return None, None


_LENGTH_CHECK = re.compile(
    r"^CHECK \(+\s*(?:char_length|length|character_length)\(\(?"
    r"(?P<col>\w+|\"(?:[^\"]|\"\")+\")\)?(?:::text)?\)"
    r"\s*<=\s*(?P<n>\d+)\s*\)+$",
    re.IGNORECASE,
)


def length_limit(check_definition: str) -> int | None:
    """``CHECK ((char_length("Body") <= 32))`` -> 32; any other CHECK -> None.

    Which column it bounds comes from ``pg_constraint.conkey`` (an attnum), not from this text.
    """
    match = _LENGTH_CHECK.match(check_definition.strip())
    return int(match.group("n")) if match else None


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
