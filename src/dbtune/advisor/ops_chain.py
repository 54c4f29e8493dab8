"""An ops chain: a second Alembic environment, beside an application's own, for index revisions.

Many teams cannot add revisions to the chain they run (a vendored application, a framework's
migrations): an unknown revision id in its ``alembic_version`` stops the application and its
own ``upgrade`` cannot find it. The ops chain keeps its place in a version table of its own
(``dbtune_ops_version`` by default), so the application's chain never sees it. It runs in
dbtune's environment (:mod:`dbtune.migrations.environment`): the URL from ``DATABASE_URL`` or
``-x url=``, a transaction per revision, one run per database at a time.
"""

from __future__ import annotations

from pathlib import Path

from dbtune.errors import UsageError

DEFAULT_VERSION_TABLE = "dbtune_ops_version"

_INI = """\
# dbtune ops chain: index revisions beside the application's own Alembic chain.
# Run: DATABASE_URL=postgresql://... alembic -c {ini} upgrade head
# Its place is kept in the table named by version_table, never in alembic_version.
[alembic]
script_location = %(here)s
prepend_sys_path = .
version_table = {version_table}
file_template = %%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s
path_separator = os

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

_ENV = '''\
"""The ops chain's Alembic environment: dbtune's (URL from DATABASE_URL or -x url=, its own
version table from alembic.ini's version_table)."""

from dbtune.migrations.environment import run

run()
'''

_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtune.migrations import create_index_online, drop_index_online
${imports if imports else ""}
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''


def init_ops(directory: Path, version_table: str = DEFAULT_VERSION_TABLE) -> list[Path]:
    """Write an ops chain into ``directory`` (new or empty): ``alembic.ini``, ``env.py``,
    ``script.py.mako`` and an empty ``versions/``. Returns the files written."""
    if not version_table or "\x00" in version_table:
        raise UsageError(f"{version_table!r} is not a usable version table name")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(
            f"{directory} exists and is not an empty directory; choose a new one "
            "(dbtune init-ops never overwrites files)"
        )
    versions = directory / "versions"
    versions.mkdir(parents=True)
    ini = directory / "alembic.ini"
    files = {
        ini: _INI.format(ini=ini, version_table=version_table),
        directory / "env.py": _ENV,
        directory / "script.py.mako": _MAKO,
    }
    for path, text in files.items():
        path.write_text(text)
    return [*files, versions]
