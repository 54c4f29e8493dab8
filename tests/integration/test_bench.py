"""python -m dbtune bench --quick: every section measured and written, within its budget."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.integration.helpers import run_cli


@pytest.mark.skipif(
    bool(os.environ.get("DBTUNE_TEST_DSN")), reason="the benchmark runs once, in the embedded run"
)
def test_quick_bench_writes_the_report(empty_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_cli("bench", "--quick", "--dsn", empty_url, "--out", str(tmp_path))
    elapsed = time.monotonic() - started
    assert run.code == 0, run.stderr
    assert elapsed < 180, elapsed  # the budget is 2 minutes; CI machines are noisy
    report = (tmp_path / "benchmarks.md").read_text()
    assert "Command: `python -m dbtune bench --quick --dsn" in report
    for section in (
        "## Hot query",
        "## The naive covering index",
        "## Writers while",
        "## Single-row inserts",
        "## Pool size sweep",
    ):
        assert section in report
    assert (tmp_path / "bench-latency.png").stat().st_size > 10_000
    assert (tmp_path / "bench-pool.png").stat().st_size > 10_000
    # The covering index beats the sequential scan by a wide margin even at 100k rows.
    speedup = re.search(r"\*\*([\d,]+)x\*\* faster than no index", report)
    assert speedup is not None
    assert int(speedup.group(1).replace(",", "")) >= 20
    assert "Index Only Scan using ix_bench_covering" in report
    assert "| `CREATE INDEX CONCURRENTLY` | 1 |" in report


def test_bench_never_overwrites_a_report_without_force(tmp_path: Path) -> None:
    (tmp_path / "benchmarks.md").write_text("the user's own file\n")
    run = run_cli("bench", "--quick", "--out", str(tmp_path))
    assert run.code == 2
    assert "already exist(s): pass --force" in run.stderr
    assert (tmp_path / "benchmarks.md").read_text() == "the user's own file\n"
