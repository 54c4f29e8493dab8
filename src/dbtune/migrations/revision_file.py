"""The one way dbtune writes an Alembic revision file: its id, its file name, its header and
module variables, its imports of the online helpers, and its place on the chain's head.

The advisor (``dbtune revision``) and doctor (``--write-revision``) differ only in their
docstring and their ``upgrade()``/``downgrade()`` bodies; everything else is written here, so
both files read alike and pass ``ruff check`` and ``ruff format --check`` alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dbtune.sql.helper_calls import HelperCall, py_literal

LINE = 96
"""Docstring lines: under the project's 100 and most projects' limits."""


def new_revision_id() -> str:
    return uuid.uuid4().hex[:12]


def body(steps: Sequence[tuple[str, Sequence[HelperCall]]]) -> str:
    """A function body: each step's comment (if any) and its calls; ``pass`` when empty."""
    lines: list[str] = []
    for comment, calls in steps:
        if comment:
            lines.append(f"    # {comment}")
        lines += [c.code() for c in calls]
    return "\n".join(lines) or "    pass"


@dataclass(frozen=True, slots=True)
class RevisionFile:
    """One revision: ``doc`` is its docstring's text before the Alembic header lines."""

    revision: str
    down: str | None
    doc: str
    upgrade: Sequence[tuple[str, Sequence[HelperCall]]]
    downgrade: Sequence[tuple[str, Sequence[HelperCall]]]

    def text(self) -> str:
        # The docstring holds names as SQL quotes them: a backslash or three quotes in one
        # would end it.
        doc = self.doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        steps = (*self.upgrade, *self.downgrade)
        used = sorted({name for _, calls in steps for c in calls for name in c.names()})
        imports = f"from dbtune.migrations import {', '.join(used)}\n\n" if used else ""
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f'''"""{doc}

Revision ID: {self.revision}
Revises:{" " + self.down if self.down else ""}
Create Date: {now}
"""

from __future__ import annotations

from collections.abc import Sequence

{imports}revision: str = {py_literal(self.revision)}
down_revision: str | Sequence[str] | None = {py_literal(self.down)}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
{body(self.upgrade)}


def downgrade() -> None:
{body(self.downgrade)}
'''

    def write(self, versions: Path, slug: str) -> Path:
        """``versions/<date>_<id>_<slug>.py``; the slug is the whole name it is given."""
        stamp = datetime.now(UTC).strftime("%Y_%m_%d")
        path = versions / f"{stamp}_{self.revision}_{slug}.py"
        path.write_text(self.text())
        return path
