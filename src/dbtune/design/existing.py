"""The indexes the database already has, in every decision ``advise`` makes (SPEC §11).

An application brings its own indexes: primary keys, unique constraints, the
``ix_<table>_<column>`` SQLAlchemy names for ``index=True`` — the very shape of dbtune's names.
Judged against its own candidates only, advise built exact copies of the application's
indexes, prefixes of its unique keys, and collided with its names. So, before any candidate is
planned:

- a candidate that an existing valid index already serves (the same leading key columns by
  attnum, the same directions or all of them reversed, default operator classes, no predicate
  on either side, its INCLUDE columns held by the existing index) is no candidate: the existing
  index is credited, since every query is planned with it in place anyway;
- a candidate whose name another relation of its schema has gets a free one (the name plus
  ``_2``, ``_3``, ...), so a rolled-back build never fails on ``already exists`` and a revision
  never builds over an index of another definition;
- an existing index that a chosen one makes redundant (its key leads the chosen key) is named
  in the report with whose it is; it is dropped only under ``--propose-drops``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from dbtune.catalog import Column, IndexInfo, psycopg_runner, read_columns, read_indexes
from dbtune.design.solver import Candidate
from dbtune.query.advice import Suggestion, bare_column
from dbtune.query.wide import Widest, settle
from dbtune.sql.identifiers import free_name

Connection = psycopg.Connection[tuple[Any, ...]]

_NAMES = """
SELECT n.nspname, c.relname FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s)
"""


@dataclass(frozen=True, slots=True)
class Redundant:
    """An existing index whose key leads a chosen one's: the chosen index serves its readers."""

    index: IndexInfo
    by: str  # the chosen index's name
    owner: str  # "the application's" or "dbtune's (<revision file>)"

    @property
    def kept_because(self) -> str:
        if self.index.primary or self.index.unique or self.index.backs_constraint:
            return "kept: it enforces a constraint"
        return "kept: pass --propose-drops to weigh dropping it"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index.name,
            "schema": self.index.schema,
            "table": self.index.table,
            "definition": self.index.definition,
            "made_redundant_by": self.by,
            "owner": self.owner,
            "note": self.kept_because,
        }


@dataclass(frozen=True, slots=True)
class Existing:
    """The database's indexes, by table OID, and each candidate table's columns by name."""

    indexes: tuple[IndexInfo, ...]
    tables: Mapping[tuple[str, str], int]  # (schema, table) -> OID
    attnums: Mapping[int, Mapping[str, int]]  # table OID -> column name -> attnum
    names: frozenset[tuple[str, str]]  # (schema, relation name) taken
    columns: Mapping[tuple[int, int], Column]  # the candidate tables' columns

    def on(self, suggestion: Suggestion) -> list[IndexInfo]:
        oid = self.tables.get((suggestion.schema, suggestion.table))
        return [
            i
            for i in self.indexes
            if i.table_oid == oid and i.valid and not i.locked and i.method == "btree"
        ]

    def _columns(self, suggestion: Suggestion) -> tuple[int, Mapping[str, int]]:
        """The suggestion's table OID (-1: no such table) and its column attnums by name."""
        oid = self.tables.get((suggestion.schema, suggestion.table), -1)
        return oid, self.attnums.get(oid, {})

    def key_of(self, suggestion: Suggestion) -> tuple[tuple[int, bool], ...] | None:
        """(attnum, descending) per key column, or None when a column is not the table's."""
        _, columns = self._columns(suggestion)
        key = []
        for item in suggestion.columns:
            attnum = columns.get(bare_column(item))
            if attnum is None:
                return None
            key.append((attnum, item.endswith(" DESC")))
        return tuple(key)

    def include_of(self, suggestion: Suggestion) -> set[int]:
        _, columns = self._columns(suggestion)
        return {columns.get(c, -1) for c in suggestion.include}

    def serving(self, suggestion: Suggestion) -> IndexInfo | None:
        """The existing index that already is this candidate, or holds it as a key prefix
        (:meth:`IndexInfo.leads_with`, with default operator classes and NULLS order, and
        the candidate's INCLUDE columns held)."""
        key = self.key_of(suggestion)
        if key is None:
            return None
        for index in self.on(suggestion):
            if (
                _plain(index)
                and index.leads_with(key, suggestion.where)
                and self.include_of(suggestion) <= {*index.key_attnums, *index.include_attnums}
            ):
                return index
        return None

    def made_redundant(self, suggestion: Suggestion) -> list[IndexInfo]:
        """The existing indexes whose whole key leads ``suggestion``'s (no predicate on
        either), whose INCLUDE columns it holds: its readers are served by the new one."""
        key = self.key_of(suggestion)
        if key is None or suggestion.where:
            return []
        held = {a for a, _ in key} | self.include_of(suggestion)
        return [
            index
            for index in self.on(suggestion)
            if _plain(index)
            and 0 not in index.key_attnums
            and len(index.key_attnums) < len(key)
            and index.leads_with(key[: len(index.key_attnums)], None)
            and set(index.include_attnums) <= held
        ]

    def unbounded(self, suggestion: Suggestion) -> list[str]:
        """The suggestion's key and INCLUDE columns that have no width bound."""
        oid, attnums = self._columns(suggestion)
        names = [bare_column(c) for c in suggestion.columns] + list(suggestion.include)
        return [
            n
            for n in dict.fromkeys(names)
            if (col := self.columns.get((oid, attnums.get(n, -1)))) is not None and col.unbounded
        ]

    def free_name(self, suggestion: Suggestion) -> str:
        """The suggestion's name, or the first ``<name>_<n>`` no relation of its schema has.
        Candidates may share a name (alternatives for one query): the selection never
        chooses two of one name."""
        taken = {n for s, n in self.names if s == suggestion.schema}
        return free_name(suggestion.name, taken)


def _plain(index: IndexInfo) -> bool:
    """Default operator classes and NULLS order: an index that serves what a plain one would."""
    return index.default_opclasses and all(
        n == d for n, d in zip(index.nulls_first, index.descending, strict=False)
    )


def read_existing(conn: Connection, suggestions: Iterable[Suggestion]) -> Existing:
    """The indexes, relation names and columns of the candidates' tables and schemas, read
    in one rolled-back transaction (the catalog layer's readers, by OID)."""
    suggestions = list(suggestions)
    with conn.transaction(force_rollback=True):
        schemas = sorted({s.schema for s in suggestions})
        names = frozenset((str(a), str(b)) for a, b in conn.execute(_NAMES, [schemas]))
        tables: dict[tuple[str, str], int] = {}
        for s in suggestions:
            if (s.schema, s.table) in tables:
                continue
            row = conn.execute(
                "SELECT to_regclass(%s)::oid", [sql.Identifier(s.schema, s.table).as_string(conn)]
            ).fetchone()
            if row is not None and row[0] is not None:
                tables[(s.schema, s.table)] = int(row[0])
        run = psycopg_runner(conn)
        oids = sorted(tables.values())
        indexes = read_indexes(run, tables=oids)
        columns = read_columns(run, oids)
    attnums: dict[int, dict[str, int]] = {}
    for (oid, attnum), column in columns.items():
        attnums.setdefault(oid, {})[column.width.name] = attnum
    return Existing(indexes, tables, attnums, names, columns)


@dataclass(frozen=True, slots=True)
class Sifted:
    """The candidates left after the existing indexes had their say, and what they said."""

    candidates: list[Candidate]
    served: list[tuple[Suggestion, IndexInfo]]  # a candidate the existing index already is
    renamed: list[tuple[str, str]]  # (the candidate's name, the free name it got)


def sift(existing: Existing, candidates: Sequence[Candidate]) -> Sifted:
    """No candidate an existing index serves; a free name for every one left."""
    kept, served, renamed = [], [], []
    for c in candidates:
        index = existing.serving(c.suggestion)
        if index is not None:
            served.append((c.suggestion, index))
            continue
        name = existing.free_name(c.suggestion)
        if name != c.suggestion.name:
            # No alias for the old name: an index of the database has it.
            if (c.suggestion.name, name) not in renamed:
                renamed.append((c.suggestion.name, name))
            c = replace(c, suggestion=replace(c.suggestion, name=name))
        kept.append(c)
    return Sifted(kept, served, renamed)


APPLICATIONS = "the application's"


def owner(index: IndexInfo, versions: Path | None) -> str:
    """Whose an index is: dbtune's when a revision of its ops chain (``versions``) names it
    (a string constant of the file, in whichever quotes), the application's otherwise."""
    if versions is not None and versions.is_dir():
        for path in sorted(versions.glob("*.py")):
            if index.name in _strings(path, path.stat().st_mtime_ns):
                return f"dbtune's ({path.name})"
    return APPLICATIONS


@lru_cache(maxsize=256)
def _strings(path: Path, mtime_ns: int) -> frozenset[str]:
    """The string constants of a Python file (none when it does not parse); read once per
    version of the file, though every index of the database asks."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return frozenset()
    return frozenset(
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def ours(conn: Connection, versions: Path | None) -> list[IndexInfo]:
    """The database's indexes dbtune's ops chain (``versions``) built, on any table: what a
    budget already holds."""
    if versions is None or not versions.is_dir():
        return []
    return [i for i in read_indexes(psycopg_runner(conn)) if owner(i, versions) != APPLICATIONS]


def redundant_existing(
    existing: Existing, chosen: Sequence[Suggestion], versions: Path | None
) -> list[Redundant]:
    """Each existing index a chosen one makes redundant, with whose it is."""
    found = []
    for s in chosen:
        for index in existing.made_redundant(s):
            found.append(Redundant(index, s.name, owner(index, versions)))
    return found


def settle_wide(
    conn: Connection, existing: Existing, candidates: Sequence[Candidate]
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """The candidates, those with unbounded columns marked ``allow_wide`` with the reason
    (:mod:`dbtune.query.wide`), and (name, why) of those that cannot be proposed."""
    kept: list[Candidate] = []
    refused: list[tuple[str, str]] = []
    widest: Widest = {}
    for c in candidates:
        settled, why = settle(conn, c.suggestion, existing.unbounded(c.suggestion), widest)
        if settled is None:
            refused.append((c.suggestion.name, why))
        else:
            kept.append(replace(c, suggestion=settled))
    return kept, refused
