"""``doctor --write-revision DIR``: the listed fixes as one Alembic revision, with an undo.

Only fixes that change the schema go in (indexes, constraints, persistence); maintenance
(ANALYZE, VACUUM, REINDEX) and advice without a statement stay in the report. An index build or
drop becomes ``create_index_online``/``drop_index_online`` (``CONCURRENTLY``, short lock waits
retried, INVALID leftovers handled); any other statement as ``execute_online`` (its own
transaction, a short ``lock_timeout``, retried). The file imports dbtune's helpers and nothing
else, and passes ``ruff check`` and ``ruff format --check`` with a project's configuration
and with none. ``downgrade()`` undoes the fixes in reverse order, and recreates what a fix
dropped from its exact definition (``pg_get_indexdef``, ``pg_get_constraintdef``), so upgrade
then downgrade leaves the catalog as it was. The revision goes on top of the chain in DIR (an
ops chain from ``dbtune init-ops``, or the application's own ``versions`` folder).
"""

from __future__ import annotations

from pathlib import Path

from pglast import ast, parse_sql, split
from pglast.enums import ObjectType

from dbtune.doctor import DoctorReport, Scored
from dbtune.migrations.chain import current_head
from dbtune.migrations.revision_file import RevisionFile, new_revision_id
from dbtune.sql import helper_calls as calls
from dbtune.sql.helper_calls import wrapped

AS_REVISION = frozenset({
    "invalid_indexes", "redundant_indexes", "unused_indexes", "unindexed_foreign_keys",
    "wide_indexes", "null_heavy_indexes", "array_btree_indexes", "duplicated_foreign_keys",
    "not_valid_constraints", "unlogged_tables",
})  # fmt: skip
LOCK_TIMEOUT = "5s"


def selected(report: DoctorReport) -> list[tuple[str, Scored]]:
    """The listed findings whose fix is a schema change, weightiest first."""
    return [(c, s) for c, s in report.ranked() if c in AS_REVISION and s.finding.fix]


def _calls(statements: str, scored: Scored) -> list[calls.HelperCall]:
    """The helper calls that run ``statements`` online: an index build or drop as
    ``create_index_online``/``drop_index_online``, any other statement as ``execute_online``."""
    out: list[calls.HelperCall] = []
    for statement in split(statements):
        tree = parse_sql(statement)
        node = tree[0].stmt if tree else None
        call = None
        if isinstance(node, ast.IndexStmt) and node.concurrent:
            call = calls.index_stmt(node)
        elif (
            isinstance(node, ast.DropStmt)
            and node.removeType == ObjectType.OBJECT_INDEX
            and node.concurrent
            and scored.table is not None
        ):
            name = [str(n.sval) for n in (node.objects or ((),))[0]][-1]
            restores = scored.finding.restores
            again = restores if restores is not None and restores.name == name else None
            call = calls.drop_index(name, scored.table, schema=scored.schema, recreate=again)
        out.append(call or calls.HelperCall("execute_online", (statement.strip(),),
                                      (("lock_timeout", LOCK_TIMEOUT),)))  # fmt: skip
    return out


def _undo(scored: Scored) -> list[calls.HelperCall]:
    """The fix undone: each of its calls' own inverse in reverse order (an index it drops built
    again from the catalog's keys, one it builds dropped); a fix of other statements by the
    finding's undo statements."""
    made = _calls(scored.finding.fix, scored)
    inverses = [c.undo for c in reversed(made)]
    if made and all(u is not None for u in inverses):
        return [u for u in inverses if u is not None]
    return _calls(scored.finding.undo, scored) if scored.finding.undo else []


def revision_file(
    findings: list[tuple[str, Scored]], revision: str, down: str | None, command: str
) -> RevisionFile:
    """The fixes in order, the undos in reverse order; a fix two findings share, once."""
    listed = "\n".join(wrapped([f"- {check}: {s.finding.subject}" for check, s in findings]))
    upgrade: list[tuple[str, list[calls.HelperCall]]] = []
    for _, scored in findings:
        made = _calls(scored.finding.fix, scored)
        if made in [m for _, m in upgrade]:
            continue  # two findings can share a fix (two keys on the same columns)
        upgrade.append((f"{scored.finding.kind}: {scored.finding.subject}", made))
    downgrade: list[tuple[str, list[calls.HelperCall]]] = []
    for _, scored in reversed(findings):
        made = _undo(scored)
        if not made or made in [m for _, m in downgrade]:
            continue
        downgrade.append((f"undo {scored.finding.kind}: {scored.finding.subject}", made))
    written_by = "\n".join(wrapped([f"Written by: {command}"]))
    doc = f"Fixes from dbtune doctor ({len(findings)}).\n\n{listed}\n\n{written_by}"
    return RevisionFile(revision, down, doc, upgrade, downgrade)


def write_fix_revision(report: DoctorReport, versions: Path, command: str) -> Path | None:
    """One revision in ``versions`` with every selected fix, or None when there is none."""
    findings = selected(report)
    down = current_head(versions)
    if not findings:
        return None
    made = revision_file(findings, new_revision_id(), down, command)
    return made.write(versions, "doctor_fixes")
