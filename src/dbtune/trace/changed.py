"""Which revision files a branch adds or changes (``dbtune trace --changed-since REF``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dbtune.errors import UsageError


def _git(cwd: Path, *args: str) -> list[str]:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise UsageError("--changed-since needs git, which is not installed here") from None
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()
        raise UsageError(
            f"git {' '.join(args[:2])} failed in {cwd}: {why[0] if why else done.returncode} "
            "(is the migrations folder in a git work tree, and the ref fetched?)"
        )
    return [line for line in done.stdout.splitlines() if line.strip()]


def changed_since(ref: str, versions: Path) -> frozenset[Path]:
    """The ``.py`` files under ``versions`` that differ from ``ref`` (committed or not) or
    that git does not track yet."""
    top = Path(_git(versions, "rev-parse", "--show-toplevel")[0])
    names = _git(versions, "diff", "--name-only", "--diff-filter=ACMR", ref, "--", ".")
    names += [
        str((versions / n).relative_to(top))
        for n in _git(versions, "ls-files", "--others", "--exclude-standard", "--", ".")
    ]
    return frozenset((top / n).resolve() for n in names if n.endswith(".py"))
