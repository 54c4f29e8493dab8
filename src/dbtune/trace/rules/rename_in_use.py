"""rename_in_use: a table or column that running code uses, renamed.

Problem: during a deploy the old release keeps running while the migration runs (and after it,
until every instance is replaced); a renamed table or column makes each of its queries fail
from the moment the migration commits. Evidence: the statement's parse tree is a
``RenameStmt`` of a table, view or column, and the relation it names (resolved by OID before
the statement ran) existed when the revision began. A rename of something the same revision
created is not flagged. Fix: expand/contract — add the new column (``add_column_online``),
``backfill`` it, deploy code that writes both and reads the new one, then drop the old one in a
later release; for a table, rename it and leave a view under the old name until the old code is
gone.
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import ObjectType

from dbtune.trace.parsed import is_rename
from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Hit, Settings, shown

ID = "rename_in_use"


def check(revision: RevisionTrace, settings: Settings) -> list[Hit]:
    hits = []
    for statement in revision.work():
        renames = [n for n in statement.nodes if is_rename(n)]
        if not renames or not statement.targets:
            continue
        target = statement.targets[0]
        if not revision.existed(target):
            continue
        node = renames[0]
        assert isinstance(node, ast.RenameStmt)
        column = node.renameType == ObjectType.OBJECT_COLUMN
        what = f"column {node.subname} of {target.name}" if column else target.name
        hits.append(
            Hit(
                statement.number,
                f"{target.name}.{node.subname}" if column else target.name,
                f"`{shown(statement.sql)}` renamed {what} to {node.newname}: the running "
                "release's queries that name it fail from the commit on",
                "expand/contract: add_column_online(new), backfill(...), deploy code using "
                "the new name, drop the old column in a later release (for a table: a view "
                "under the old name meanwhile)",
            )
        )
    return hits
