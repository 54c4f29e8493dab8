"""``dbtune doctor``: the live database inspected, its findings weighed, the fixes written as
one Alembic revision when asked.

>>> report = run(url, DoctorOptions(instances=4))
>>> report.passed
"""

from __future__ import annotations

from pathlib import Path

from dbtune.doctor import DoctorOptions, DoctorReport, run_doctor
from dbtune.doctor import report as doctor_report
from dbtune.doctor.revision import write_fix_revision
from dbtune.doctor.selection import Selection
from dbtune.migrations.chain import current_head

render_json = doctor_report.render_json
as_results = doctor_report.as_results

__all__ = [
    "DoctorOptions", "DoctorReport", "Selection", "as_results", "check_versions", "render_json",
    "run", "write_revision",
]  # fmt: skip


def run(url: str, options: DoctorOptions | None = None) -> DoctorReport:
    """Every finding module over one read of the catalog (read only, rolled back)."""
    return run_doctor(url, options)


def check_versions(versions: Path) -> None:
    """A wrong revisions folder fails before the server is read."""
    current_head(versions)


def write_revision(report: DoctorReport, versions: Path, command: str) -> Path | None:
    """One revision with every selected fix, or None when there is none."""
    return write_fix_revision(report, versions, command)
