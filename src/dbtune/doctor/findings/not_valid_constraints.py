"""not_valid_constraints: a CHECK or foreign key left NOT VALID.

Problem: ``ADD CONSTRAINT ... NOT VALID`` is the first half of adding a constraint online; the
second, ``VALIDATE CONSTRAINT``, proves the old rows. Left undone, old rows may break the rule
nobody checks, the planner cannot use a CHECK to skip partitions or prove ``SET NOT NULL``,
and the migration that forgot it looks finished. Evidence: ``pg_constraint.convalidated =
false`` for a CHECK or foreign key. Fix: ``VALIDATE CONSTRAINT`` (a SHARE UPDATE EXCLUSIVE
lock: reads and writes go on); if it fails, the error names a row that breaks the rule.
"""

from __future__ import annotations

from psycopg import sql

from dbtune.catalog import Catalog
from dbtune.doctor import DoctorOptions, Finding
from dbtune.sql.identifiers import ident

ID = "not_valid_constraints"
SKIPS_LOCKED = True  # reads definitions a table under ACCESS EXCLUSIVE withholds


def inspect(catalog: Catalog, options: DoctorOptions) -> list[Finding]:
    from dbtune.doctor.findings._facts import table_name

    found = []
    for loose in sorted(catalog.health.loose_constraints, key=lambda c: c.oid):
        names = catalog.health.table_name(loose.table_oid)
        if names is None:
            continue
        kind = "foreign key" if loose.contype == "f" else "CHECK"
        found.append(
            Finding(
                ID,
                f"{table_name(catalog, loose.table_oid)}.{loose.name}",
                f"{kind} {loose.name} on {table_name(catalog, loose.table_oid)} is NOT VALID: "
                f"rows from before it ({loose.definition}) were never checked",
                sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {};")
                .format(ident(*names), ident(loose.name))
                .as_string(),
                severity="medium",
                table_oid=loose.table_oid,
            )
        )
    return found
