"""Running the CLI as a user would, for the integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    module: str = "dbtune",
    columns: str | None = "200",
) -> Run:
    """Run ``python -m <module> args`` as a user would, without DATABASE_URL unless given."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "COLUMNS")}
    if columns is not None:
        full_env["COLUMNS"] = columns
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)
