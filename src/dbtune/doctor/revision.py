"""``doctor --write-revision DIR``: the listed fixes as one Alembic revision, with an undo.

Only fixes that change the schema go in (indexes, constraints, persistence); maintenance
(ANALYZE, VACUUM, REINDEX) and advice without a statement stay in the report. An index build or
drop becomes ``create_index_online``/``drop_index_online`` (``CONCURRENTLY``, short lock waits
retried, INVALID leftovers handled); any other statement runs as written in its own
``autocommit_block()`` under a short ``lock_timeout``. ``downgrade()`` undoes the fixes in
reverse order, and recreates what a fix dropped from its exact definition
(``pg_get_indexdef``, ``pg_get_constraintdef``), so upgrade then downgrade leaves the catalog
as it was. The revision goes on top of the chain in DIR (an ops chain from ``dbtune init-ops``,
or the application's own ``versions`` folder).
"""

from __future__ import annotations

import json
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pglast import ast, parse_sql, split
from pglast.enums import ObjectType

from dbtune.doctor import DoctorReport, Scored
from dbtune.migrations.calls import drop_index_call, index_stmt_call
from dbtune.migrations.chain import current_head

AS_REVISION = frozenset({
    "invalid_indexes", "redundant_indexes", "unused_indexes", "unindexed_foreign_keys",
    "wide_indexes", "null_heavy_indexes", "array_btree_indexes", "duplicated_foreign_keys",
    "not_valid_constraints", "unlogged_tables",
})  # fmt: skip
LOCK_TIMEOUT = "5s"


def selected(report: DoctorReport) -> list[tuple[str, Scored]]:
    """The listed findings whose fix is a schema change, weightiest first."""
    return [(c, s) for c, s in report.ranked() if c in AS_REVISION and s.finding.fix]


def _lines(statements: str, scored: Scored) -> list[str]:
    """Python lines (of a function body) that run ``statements`` online."""
    out: list[str] = []
    for statement in split(statements):
        tree = parse_sql(statement)
        node = tree[0].stmt if tree else None
        call = None
        if isinstance(node, ast.IndexStmt) and node.concurrent:
            call = index_stmt_call(node)
        elif (
            isinstance(node, ast.DropStmt)
            and node.removeType == ObjectType.OBJECT_INDEX
            and node.concurrent
            and scored.table is not None
        ):
            name = [str(n.sval) for n in (node.objects or ((),))[0]][-1]
            call = drop_index_call(name, scored.table, schema=scored.schema)
        if call is not None:
            out.append(f"    {call}")
        else:
            out += [
                "    with op.get_context().autocommit_block():",
                f"        op.execute(sa.text({json.dumps(statement.strip() + ';')}))",
            ]
    return out


def revision_text(
    findings: list[tuple[str, Scored]], revision: str, down: str | None, command: str
) -> str:
    listed = "\n".join(
        textwrap.fill(f"- {check}: {s.finding.subject}", 96, subsequent_indent="  ")
        for check, s in findings
    )
    timeout = f'    op.execute("SET lock_timeout = {LOCK_TIMEOUT!r}")'
    upgrade, downgrade = [timeout], [timeout]
    done: list[list[str]] = []  # two findings can share a fix (two keys on the same columns)
    for _, scored in findings:
        lines = _lines(scored.finding.fix, scored)
        if lines in done:
            continue
        done.append(lines)
        upgrade.append(f"    # {scored.finding.kind}: {scored.finding.subject}")
        upgrade += lines
    undone: list[list[str]] = []
    for _, scored in reversed(findings):
        lines = _lines(scored.finding.undo, scored) if scored.finding.undo else []
        if not lines or lines in undone:
            continue
        undone.append(lines)
        downgrade.append(f"    # undo {scored.finding.kind}: {scored.finding.subject}")
        downgrade += lines
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f'''"""Fixes from dbtune doctor ({len(findings)}).

{listed}

Written by: {command}

Revision ID: {revision}
Revises:{" " + down if down else ""}
Create Date: {now}
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dbtune.migrations import create_index_online, drop_index_online

revision: str = {json.dumps(revision)}
down_revision: str | Sequence[str] | None = {json.dumps(down) if down else "None"}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
{chr(10).join(upgrade)}
    op.execute("RESET lock_timeout")


def downgrade() -> None:
{chr(10).join(downgrade)}
    op.execute("RESET lock_timeout")
'''


def write_fix_revision(report: DoctorReport, versions: Path, command: str) -> Path | None:
    """One revision in ``versions`` with every selected fix, or None when there is none."""
    findings = selected(report)
    down = current_head(versions)
    if not findings:
        return None
    revision = uuid.uuid4().hex[:12]
    stamp = datetime.now(UTC).strftime("%Y_%m_%d")
    path = versions / f"{stamp}_{revision}_doctor_fixes.py"
    path.write_text(revision_text(findings, revision, down, command))
    return path
