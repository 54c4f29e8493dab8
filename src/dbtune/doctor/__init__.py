"""``dbtune doctor``: index and pool health of a live database, one module per finding type.

Each module's docstring states the problem, how it is detected and the fix (rendered into
``docs/doctor/<id>.md``) and defines ``inspect(catalog, options) -> list[Finding]``, a pure
function of the catalog read once per run (:mod:`dbtune.catalog`). The registry is built from
the module names, like the plan checks'. A module that reads index or constraint definitions
sets ``SKIPS_LOCKED = True``: a table under an ACCESS EXCLUSIVE lock withholds them, so the
module's entry lists that table as not judged instead of passing it or reporting it on what
it could not see.

Layout: :mod:`.model` (options, findings, outcomes, the report), :mod:`.score` (what a finding
weighs), :mod:`.run` (the registry and the engine), ``findings/`` (one module per finding).
"""

from __future__ import annotations

from dbtune.doctor.model import (
    SEVERITY_WEIGHT,
    SMALL_BYTES,
    SMALL_ROWS,
    DoctorOptions,
    DoctorReport,
    Finding,
    FindingsOutcome,
    InspectFn,
    Scored,
    Severity,
)
from dbtune.doctor.run import (
    LOCK_TIMEOUT_MS,
    LOCKED_WHY,
    STATEMENT_TIMEOUT_MS,
    diagnose,
    registry,
    run_doctor,
    skips_locked,
)
from dbtune.doctor.score import score

__all__ = [
    "LOCKED_WHY",
    "LOCK_TIMEOUT_MS",
    "SEVERITY_WEIGHT",
    "SMALL_BYTES",
    "SMALL_ROWS",
    "STATEMENT_TIMEOUT_MS",
    "DoctorOptions",
    "DoctorReport",
    "Finding",
    "FindingsOutcome",
    "InspectFn",
    "Scored",
    "Severity",
    "diagnose",
    "registry",
    "run_doctor",
    "score",
    "skips_locked",
]
