"""duplicated_foreign_keys: two foreign keys with the same columns to the same table.

Problem: each foreign key checks every insert and update of the table, and every delete of the
referenced table, on its own: a second identical one doubles that work and proves nothing more
(often a constraint added once by hand and once by a migration). Evidence: two foreign keys of
a table with the same referencing attnums, the same referenced table and the same referenced
attnums. Fix: drop the newer one (the undo adds it back from ``pg_get_constraintdef``, NOT
VALID then VALIDATE).
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import ident

ID = "duplicated_foreign_keys"


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_name

    health = catalog.health
    keys = sorted(catalog.foreign_keys, key=lambda k: k.oid)
    found = []
    for n, older in enumerate(keys):
        for newer in keys[n + 1 :]:
            same = (older.table_oid, older.attnums, older.parent_oid, older.parent_attnums) == (
                newer.table_oid, newer.attnums, newer.parent_oid, newer.parent_attnums,
            )  # fmt: skip
            names = health.table_name(newer.table_oid)
            if not same or names is None:
                continue
            table = ident(*names)
            drop = sql.SQL("ALTER TABLE {} DROP CONSTRAINT {};").format(table, ident(newer.name))
            undo = sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID; ALTER TABLE {} VALIDATE "
                "CONSTRAINT {};"
            ).format(table, ident(newer.name), sql.SQL(newer.definition), table, ident(newer.name))
            found.append(
                Finding(
                    ID,
                    f"{table_name(catalog, newer.table_oid)}.{newer.name}",
                    f"foreign key {newer.name} on {table_name(catalog, newer.table_oid)} "
                    f"duplicates {older.name}: each write is checked twice",
                    drop.as_string(),
                    severity="low",
                    table_oid=newer.table_oid,
                    undo=undo.as_string(),
                )
            )
    return found
