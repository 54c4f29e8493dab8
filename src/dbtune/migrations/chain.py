"""Where a new revision goes: the head of the chain whose revision files are in a folder."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from dbtune.errors import UsageError


def current_head(versions: Path) -> str | None:
    """The single head of the chain whose revisions are in ``versions``."""
    if not versions.is_dir():
        raise UsageError(
            f"{versions} is not a directory; point it at the chain's versions directory "
            "(dbtune init-ops DIR makes an ops chain)"
        )
    try:
        script = ScriptDirectory(str(versions.parent), version_locations=[str(versions)])
        return script.get_current_head()
    except CommandError as exc:
        raise UsageError(f"cannot find the head of {versions}: {exc}") from None
