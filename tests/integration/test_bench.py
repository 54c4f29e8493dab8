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
    run = run_cli(
        "bench", "--quick", "--scale", "30000,100000", "--dsn", empty_url, "--out", str(tmp_path)
    )
    elapsed = time.monotonic() - started
    assert run.code == 0, run.stderr
    assert elapsed < 180, elapsed  # the budget is 2 minutes; CI machines are noisy
    report = (tmp_path / "benchmarks.md").read_text()
    assert "Command: `python -m dbtune bench --quick --scale 30000,100000 --dsn" in report
    for section in (
        "## How the hot query's cost grows with the table",
        "## Hot query at 100,000 rows",
        "## The naive covering index",
        "## Writers while",
        "## Single-row inserts",
        "## Pool size sweep",
    ):
        assert section in report
    for plot in ("bench-scaling.png", "bench-latency.png"):
        assert (tmp_path / plot).stat().st_size > 10_000
    # Two sizes of one seed: the sequential scan costs more on the larger one.
    no_index = [
        float(m.group(2))
        for m in re.finditer(r"^\| (30,000|100,000) \| ([\d.]+) \|", report, re.MULTILINE)
    ]
    assert len(no_index) == 2, report
    assert no_index[1] > no_index[0]
    assert (tmp_path / "bench-pool.png").stat().st_size > 10_000
    # The covering index beats the sequential scan by a wide margin even at 100k rows.
    speedup = re.search(r"rows the covering index is \*\*([\d,]+)x\*\* faster", report)
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
