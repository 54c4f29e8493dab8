"""``dbtune revision`` and ``dbtune init-ops``: the advisor's verified suggestions as Alembic
revisions, and the ops chain beside an application's own that holds them."""

from __future__ import annotations

from pathlib import Path

from dbtune.advisor.ops_chain import DEFAULT_VERSION_TABLE, init_ops

__all__ = ["DEFAULT_VERSION_TABLE", "from_report", "init_ops"]


def from_report(report_path: Path, versions: Path, *, unverified: bool = False) -> list[Path]:
    """One revision in ``versions`` per suggestion a what-if verified in ``report_path`` (an
    ``explain --what-if --format json`` file); the files written, none when nothing was."""
    from dbtune.advisor.revision import load_report, write_revisions  # loads Alembic

    report = load_report(report_path)
    command = (
        f"dbtune explain --workload {report.get('workload')} --what-if --format json "
        f"(on {report.get('target')}) > {report_path}; "
        f"dbtune revision --from {report_path} --dir {versions}"
        + (" --unverified" if unverified else "")
    )
    return write_revisions(report, versions, command, unverified=unverified)
