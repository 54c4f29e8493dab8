"""Give a small table's files production's page counts, so the planner sizes it as production.

PostgreSQL does not take an imported ``reltuples`` as a table's size: it takes
``reltuples / relpages`` as a density and multiplies it by the number of pages the table's
file has *now* (``table_block_relation_estimate_size``), and it reads an index's size from its
file alone. A 3,000-row table with production's figures is still planned as 3,000 rows.

So the file is grown, in the caller's transaction, each table in a savepoint: the table's own
rows are copied into it until it has the exported page count, its indexes are rebuilt over
them (``REINDEX TABLE``: built, not split, as production's were), and the copies are deleted by
the same transaction — no other session ever sees one, its own triggers are off meanwhile, its
sequences are set back. What is left is the pages: free space and dead tuples, which a VACUUM
would give back (the import sets ``vacuum_truncate = off``). The whole run writes at most
``limit_bytes``. A table this cannot grow (empty here, a unique key without a default, an
exclusion constraint) is listed and keeps its size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from dbtune.errors import first_line
from dbtune.sql.identifiers import ident

Connection = psycopg.Connection[tuple[Any, ...]]

GROW_LIMIT_MB = 1024
"""The default bound on what growing writes in one run: files over it stay small (listed)."""
MAX_ROUNDS = 8
"""Copies are estimated from rows per page; a table still short after this many tries stops."""

_COPYABLE = """
SELECT a.attname FROM pg_attribute AS a
WHERE a.attrelid = %(oid)s AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attgenerated = '' AND a.attidentity <> 'a'
  AND NOT ((a.atthasdef OR a.attidentity <> '') AND EXISTS (
      SELECT FROM pg_index AS i WHERE i.indrelid = a.attrelid AND i.indisunique
      AND a.attnum = ANY(i.indkey)))
ORDER BY a.attnum
"""
"""Columns a copy takes from its row: not generated, not ``GENERATED ALWAYS``, and not a
unique key's column with a default (an id takes its next value instead)."""

_UNIQUE_KEYS = """
SELECT i.indexrelid, a.attname, t.typname, t.typcategory,
       EXISTS (SELECT FROM pg_constraint AS c WHERE c.conrelid = a.attrelid
               AND c.contype = 'f' AND a.attnum = ANY(c.conkey)) AS referencing,
       (a.atthasdef OR a.attidentity <> '') AS defaulted
FROM pg_index AS i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
JOIN pg_type AS t ON t.oid = a.atttypid
WHERE i.indrelid = %(oid)s AND i.indisunique AND k.n <= i.indnkeyatts
ORDER BY i.indexrelid, k.n
"""
"""The columns of each unique key (primary keys included), with what a copy can do to one:
a column with a default takes its next value; another is varied (:func:`_varied`)."""

_INTEGERS = frozenset({"int2", "int4", "int8"})

_SEQUENCES = """
SELECT s.oid, n.nspname, s.relname
FROM pg_depend AS d JOIN pg_class AS s ON s.oid = d.objid
JOIN pg_namespace AS n ON n.oid = s.relnamespace
WHERE d.refobjid = %(oid)s AND d.classid = 'pg_class'::regclass AND s.relkind = 'S'
  AND d.deptype IN ('a', 'i')
"""

_PAGES = "SELECT pg_relation_size(%(oid)s) / current_setting('block_size')::int"


@dataclass
class Grown:
    tables: list[str] = field(default_factory=list)
    """What grew: ``name: from -> to pages``."""
    skipped: list[str] = field(default_factory=list)
    written_bytes: int = 0
    names: list[tuple[str, str]] = field(default_factory=list)
    """(schema, table) of each table grown, for :func:`give_back`."""

    def count(self) -> str:
        """``the files of 1 table`` / ``of 7 tables``."""
        n = len(self.tables)
        return f"the files of {n} table{'' if n == 1 else 's'}"


def give_back(conn: Connection, grown: Grown) -> list[str]:
    """``VACUUM`` the grown tables after a rolled-back run (``explain --stats``), so their
    files shrink to their rows again: left grown, the table would plan afterwards as its own
    density times production's pages. ``conn`` in autocommit. Returns what could not be
    vacuumed (dropped since, say)."""
    failed = []
    for schema, name in grown.names:
        try:
            conn.execute(sql.SQL("VACUUM (TRUNCATE) {}").format(ident(schema, name)))
        except psycopg.Error as exc:
            failed.append(f"{ident(schema, name).as_string(conn)}: {first_line(exc)}")
    return failed


def _pages(conn: Connection, oid: int) -> int:
    row = conn.execute(_PAGES, {"oid": oid}).fetchone()
    return int(row[0]) if row else 0


Varying = Callable[[sql.Identifier, sql.Composable, int], sql.Composable]
"""The expression a varied column takes in a copy: of the column, the table, the round."""


def _varied(conn: Connection, oid: int, table: sql.Composable) -> dict[str, Varying] | str:
    """For each unique key a copy would repeat, the one column the copies change so the key
    holds: a uuid (a random one), a text (a suffix naming the round and the copy), an integer
    (offset past the table's range); never a column that references another table. A key of
    none of these: why the table cannot be grown."""
    keys: dict[int, list[tuple[str, str, str, bool, bool]]] = {}
    for index, *column in conn.execute(_UNIQUE_KEYS, {"oid": oid}).fetchall():
        name, typname, category, referencing, defaulted = column
        keys.setdefault(int(index), []).append(
            (str(name), str(typname), str(category), bool(referencing), bool(defaulted))
        )
    varied: dict[str, Varying] = {}
    for columns in keys.values():
        defaulted = [name for name, *_, has_default in columns if has_default]
        if defaulted:  # takes a new value in every copy: a sequence's, past the rows'
            _sequences_past_rows(conn, table, defaulted)
            continue
        if any(name in varied for name, *_ in columns):
            continue
        choice = _choice(columns)
        if choice is None:
            names = ", ".join(name for name, *_ in columns)
            return (
                f"the unique key ({names}) has no column a copy can change (a uuid, a text or "
                "an integer that references no other table): copies would repeat it"
            )
        varied[choice[0]] = choice[1]
    return varied


def _sequences_past_rows(conn: Connection, table: sql.Composable, columns: Sequence[str]) -> None:
    """A serial or identity column's sequence set to the table's largest value, so copies
    take values no row has: rows given their ids explicitly (a fixture, a bulk load) leave a
    sequence behind them. :func:`grow_files` sets it back as it was afterwards."""
    for column in columns:
        conn.execute(
            sql.SQL(
                "SELECT setval(s, m) FROM (SELECT pg_get_serial_sequence({}, {}) AS s, "
                "max({})::bigint AS m FROM {}) AS q WHERE s IS NOT NULL AND m IS NOT NULL"
            ).format(
                sql.Literal(table.as_string(conn)),
                sql.Literal(column),
                sql.Identifier(column),
                table,
            )
        )


def _choice(columns: Sequence[tuple[str, str, str, bool, bool]]) -> tuple[str, Varying] | None:
    free = [(name, typ, category) for name, typ, category, refers, _ in columns if not refers]
    for name, typname, _ in free:
        if typname == "uuid":
            return name, lambda column, table, round_: sql.SQL("gen_random_uuid()")
    for name, _, category in free:
        if category == "S":
            return name, _suffixed
    for name, typname, _ in free:
        if typname in _INTEGERS:
            return name, _offset
    return None


def _suffixed(column: sql.Identifier, table: sql.Composable, round_: int) -> sql.Composable:
    return sql.SQL("{} || {} || dbtune_copy").format(column, sql.Literal(f" ~{round_}."))


def _offset(column: sql.Identifier, table: sql.Composable, round_: int) -> sql.Composable:
    """Past the table's whole range: copy k of a value v is v + k x (max - min + 1)."""
    return sql.SQL("{} + dbtune_copy * (SELECT max({}) - min({}) + 1 FROM {})").format(
        column, column, column, table
    )


def _copy_statement(
    table: sql.Composable,
    columns: list[str],
    counts: tuple[int, int],
    varied: Mapping[str, Varying],
    round_: int,
) -> sql.Composed:
    """``copies`` copies of each of the table's first ``rows`` rows, each row's copies one
    after the other (a set-returning function in the select list keeps that order). Equal
    keys arriving together go into one posting list of each index (btree deduplication),
    which leaves the indexes about as large as production's; copies in random order split
    pages in half and left an index half again as large, and an index's size is read from
    its file too."""
    rows, copies = counts
    source = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    values = sql.SQL(", ").join(
        varied[c](sql.Identifier(c), table, round_) if c in varied else sql.Identifier(c)
        for c in columns
    )
    repeated = sql.SQL(
        "SELECT {}{}generate_series(1, {}) AS dbtune_copy FROM (SELECT {} FROM {} LIMIT {}) AS t"
    ).format(source, sql.SQL(", ") if columns else sql.SQL(""), sql.Literal(copies),
             source, table, sql.Literal(rows))  # fmt: skip
    if not columns:
        insert = sql.SQL("INSERT INTO {} SELECT FROM ({}) AS copied RETURNING xmin").format(
            table, repeated
        )
    else:
        insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM ({}) AS copied RETURNING xmin").format(
            table, source, values, repeated
        )
    return sql.SQL("WITH copy AS ({}) SELECT DISTINCT xmin::text FROM copy").format(insert)


def _copy(conn: Connection, oid: int, table: sql.Composable, want: int) -> tuple[str, list[str]]:
    """Copy the table's rows into it until its file has ``want`` pages: '' or why not, and the
    transaction ids the copies carry (to delete them by).

    The first round takes the file's average rows per page; later ones what the last round
    measured. Copies fill the free space an earlier VACUUM left in the pages first, so the
    average can undershoot several times over."""
    columns = [str(r[0]) for r in conn.execute(_COPYABLE, {"oid": oid})]
    xids: list[str] = []
    varied = _varied(conn, oid, table)
    if isinstance(varied, str):
        return varied, xids
    per_page = 0.0  # rows per added page, as the last round measured it
    for round_ in range(1, MAX_ROUNDS + 1):
        have = _pages(conn, oid)
        if have >= want:
            return "", xids
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        rows = int(row[0]) if row else 0
        if rows == 0:
            return "empty here: there are no rows to copy, so it plans as empty", xids
        needed = math.ceil((want - have) * (per_page or rows / max(have, 1)))
        copies = -(-needed // rows)
        statement = _copy_statement(table, columns, (-(-needed // copies), copies), varied, round_)
        xids += [str(x) for (x,) in conn.execute(statement).fetchall()]
        added = _pages(conn, oid) - have
        per_page = needed / added if added > 0 else 2 * max(per_page, rows / max(have, 1))
    return ("" if _pages(conn, oid) >= want else "still short after copying"), xids


_TRIGGERS = """
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid = %(oid)s AND NOT tgisinternal AND tgenabled <> 'D'
"""
_ENABLE = {"O": "ENABLE", "A": "ENABLE ALWAYS", "R": "ENABLE REPLICA"}


def _grow(conn: Connection, oid: int, table: sql.Composable, want: int) -> str:
    """Copies in, indexes rebuilt over them, copies deleted, in the caller's transaction
    (a failure raises and the caller's savepoint undoes it all); '' or why not grown.

    The indexes are rebuilt (``REINDEX TABLE``) while the copies are live: copies inserted
    one by one split index pages in half and left an index half again as large as a built
    one, and the planner reads an index's size from its file too. The copies are then
    deleted by the same transaction, so no other session ever sees one; the table's own
    triggers are switched off meanwhile (an audit trigger would log them) and back on as
    they were."""
    triggers = [(str(n), str(e)) for n, e in conn.execute(_TRIGGERS, {"oid": oid}).fetchall()]
    for name, _ in triggers:
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(table, ident(name)))
    # New index files before the copies too: in a transaction that is rolled back
    # (explain --stats) the table's own index files then never see a copy, and come back
    # as they were; entries for the copies would stay in them, VACUUM or not.
    conn.execute(sql.SQL("REINDEX TABLE {}").format(table))
    why, xids = _copy(conn, oid, table, want)
    if xids:
        conn.execute(sql.SQL("REINDEX TABLE {}").format(table))
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE xmin = ANY(%s::xid[])").format(table), [sorted(set(xids))]
        )
    for name, enabled in triggers:
        conn.execute(
            sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
                table, sql.SQL(_ENABLE[enabled]), ident(name)
            )
        )
    return why


def grow_files(
    conn: Connection, entries: Sequence[Mapping[str, Any]], *, limit_bytes: int
) -> Grown:
    """Grow the files of every table of ``entries`` (a statistics file's tables) that has
    fewer pages here than in the file, within ``limit_bytes`` in all, in ``conn``'s
    transaction (explain's rolled-back one, or the import's), each table in a savepoint."""
    grown = Grown()
    row = conn.execute("SELECT current_setting('block_size')::int").fetchone()
    block = int(row[0]) if row else 8192
    sequences: dict[int, tuple[Any, Any]] = {}
    for entry in entries:
        _grow_one(conn, entry, block, limit_bytes, grown, sequences)
    for oid, (last, called) in sequences.items():  # nextval is not undone by a rollback
        conn.execute("SELECT setval(%s::oid::regclass, %s, %s)", [oid, last, called])
    return grown


def _grow_one(
    conn: Connection, entry: Mapping[str, Any], block: int, limit_bytes: int, grown: Grown,
    sequences: dict[int, tuple[Any, Any]],
) -> None:  # fmt: skip
    schema, name = str(entry["schema"]), str(entry["name"])
    table = ident(schema, name)
    shown = table.as_string(conn)
    row = conn.execute(
        "SELECT c.oid FROM pg_class AS c WHERE c.oid = to_regclass(%s) AND c.relkind = 'r'",
        [shown],
    ).fetchone()
    want = int(entry.get("relpages") or 0)
    if row is None or want <= 0:
        return
    oid = int(row[0])
    have = _pages(conn, oid)
    if have >= want:
        return
    if grown.written_bytes + (want - have) * block > limit_bytes:
        grown.skipped.append(
            f"{shown}: growing it to {want:,} pages would write {(want - have) * block >> 20:,} "
            f"MB more, over the limit of {limit_bytes >> 20:,} MB; it plans at this "
            "database's size"
        )
        return
    for seq, seq_schema, seq_name in conn.execute(_SEQUENCES, {"oid": oid}).fetchall():
        if int(seq) not in sequences:
            state = conn.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(
                    sql.Identifier(str(seq_schema), str(seq_name))
                )
            ).fetchone()
            if state is not None:
                sequences[int(seq)] = (state[0], state[1])
    try:
        with conn.transaction():
            why = _grow(conn, oid, table, want)
    except psycopg.Error as exc:
        why = f"{first_line(exc)}"
    after = _pages(conn, oid)
    grown.written_bytes += max(0, after - have) * block
    if why:
        grown.skipped.append(f"{shown}: not grown, {why}")
    else:
        grown.tables.append(f"{shown}: {have:,} -> {after:,} pages")
    if after > have:
        grown.names.append((schema, name))
