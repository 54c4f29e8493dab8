"""Snapshots of the offline SQL (``alembic upgrade --sql``) that a DBA applies with psql.

A change to it is a reviewed diff of these files; squawk lints the upgrade in CI, and an
integration test applies it with psql. To accept a change:
``DBTUNE_UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/test_offline_sql.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("offline-upgrade.sql", ["upgrade", "0001_baseline:head", "--sql"]),
        ("offline-downgrade.sql", ["downgrade", "head:0001_baseline", "--sql"]),
    ],
)
def test_offline_sql_snapshot(name: str, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",) and "DBTUNE_" not in k}
    run = subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    path = SNAPSHOTS / name
    if os.environ.get("DBTUNE_UPDATE_SNAPSHOTS"):
        path.write_text(run.stdout)
    assert path.exists(), f"no snapshot {path}: run with DBTUNE_UPDATE_SNAPSHOTS=1"
    assert run.stdout == path.read_text()
