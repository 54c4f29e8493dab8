"""Which of a query's conditions no index can serve, decided from its parse tree and the catalog.

A condition is *not sargable* when the column it compares is wrapped — in a function
(``date(ts) = $1``, ``lower(email) = $1``), an operator (``ts + interval '1 day' > now()``) or a
cast no index matches (``ts::date``) — or when a LIKE pattern starts with a wildcard. It stops
being a problem when an expression index holds exactly that expression, or (for LIKE) a
trigram index covers the column. A cast between ``varchar`` and ``text`` is never one:
PostgreSQL compares ``varchar`` with ``text``'s operators and prints ``(status)::text`` for
every such comparison, which an index on ``status`` serves as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dbtune.catalog import Column, IndexInfo
from dbtune.sql.shape import Obstacle, TableUse
from dbtune.sql.text import SqlTextError, expression_key

_TEXT_LIKE = frozenset({"text", "varchar"})
_CAST_ALIASES = {"character varying": "varchar", "int": "int4", "integer": "int4"}
_DAY_FUNCTIONS = frozenset({"date", "date_trunc"})


@dataclass(frozen=True, slots=True)
class TableHintFacts:
    """What the hints need to know of one table: its columns' types and its special indexes."""

    column_types: Mapping[str, str]  # column name -> pg_type.typname
    expressions: frozenset[str] = frozenset()  # expression index keys, by expression_key()
    trigram: frozenset[str] = frozenset()  # columns a pg_trgm GIN/GiST index covers

    @classmethod
    def of(
        cls, table_oid: int, columns: Iterable[Column], indexes: Iterable[IndexInfo]
    ) -> TableHintFacts:
        mine = [c for c in columns if c.table_oid == table_oid]
        names = {c.attnum: c.width.name for c in mine}
        expressions: set[str] = set()
        trigram: set[str] = set()
        for index in indexes:
            if index.table_oid != table_oid or not index.valid:
                continue
            for attnum, text in zip(index.key_attnums, index.key_columns, strict=True):
                if attnum == 0:
                    try:
                        expressions.add(expression_key(text))
                    except SqlTextError:
                        continue
                elif index.method in ("gin", "gist") and "trgm" in index.opclasses:
                    trigram.add(names.get(attnum, ""))
        return cls(
            {c.width.name: c.typname for c in mine}, frozenset(expressions), frozenset(trigram)
        )


def _harmless_cast(obstacle: Obstacle, column_type: str | None) -> bool:
    target = _CAST_ALIASES.get(obstacle.cast_to or "", obstacle.cast_to)
    if column_type is None:
        return False  # not a column of this table as far as the catalog knows: say nothing
    return target == column_type or (target in _TEXT_LIKE and column_type in _TEXT_LIKE)


def _indexed(obstacle: Obstacle, facts: TableHintFacts) -> bool:
    if obstacle.kind == "leading wildcard":
        return obstacle.column in facts.trigram
    try:
        return expression_key(obstacle.expression) in facts.expressions
    except SqlTextError:
        return False


def _hint(obstacle: Obstacle, column_type: str) -> str:
    column, text = obstacle.column, obstacle.text
    function = obstacle.expression.split("(", 1)[0].lower()
    if obstacle.kind == "leading wildcard":
        return (
            f"`{text}` is not sargable: the pattern starts with a wildcard, which a btree "
            f"cannot serve; a trigram index can (CREATE EXTENSION pg_trgm, then an index "
            f"USING gin ({column} gin_trgm_ops))"
        )
    if obstacle.kind == "operator":
        return (
            f"`{text}` is not sargable: it computes on {column}; move the arithmetic to the "
            f"other side so the column stands alone (e.g. {column} > now() - interval '1 day')"
        )
    if obstacle.cast_to == "date" or function in _DAY_FUNCTIONS:
        return (
            f"`{text}` is not sargable: {column} ({column_type}) is turned into a day before "
            f"the comparison; compare the column itself with a range, e.g. "
            f"{column} >= day AND {column} < day + 1"
        )
    if obstacle.kind == "cast":
        return (
            f"`{text}` is not sargable: it casts {column} ({column_type}) to "
            f"{obstacle.cast_to} and no index holds that cast; cast the other side to "
            f"{column_type} instead"
        )
    return (
        f"`{text}` is not sargable: no index holds {obstacle.expression}; index the "
        f"expression (CREATE INDEX ... (({obstacle.expression}))) or compare the bare column"
    )


def hints(use: TableUse, facts: TableHintFacts) -> list[str]:
    """One line per condition of ``use`` that no index on the bare column can serve."""
    found = []
    for obstacle in use.obstacles:
        column_type = facts.column_types.get(obstacle.column)
        if column_type is None:
            continue
        if obstacle.kind == "cast" and _harmless_cast(obstacle, column_type):
            continue
        if _indexed(obstacle, facts):
            continue
        found.append(_hint(obstacle, column_type))
    return found
