"""The scaling series' sizes, ratios and report, on figures made up for the purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtune.bench import latency
from dbtune.bench.run import BenchConfig, BenchResults
from dbtune.bench.run import write_report as write_bench_report
from dbtune.bench.scaling import (
    BYTES_PER_MESSAGE,
    QUICK_SERIES,
    SERIES,
    ScalePoint,
    default_series,
    parse_series,
    within,
)

GiB = 2**30


def _lat(p50: float, p95: float | None = None) -> latency.Latency:
    return latency.Latency(10, p50, p95 if p95 is not None else p50 * 1.5, p50 * 2)


def _point(rows: int, no_index: float, covering: float, floor: float) -> ScalePoint:
    def variant(name: str, ms: float) -> latency.VariantResult:
        return latency.VariantResult(name, _lat(ms), _lat(ms), 10, "Limit > Index Scan")

    return ScalePoint(
        rows,
        _lat(floor),
        {
            latency.NO_INDEX: variant(latency.NO_INDEX, no_index),
            latency.PLAIN: variant(latency.PLAIN, covering * 1.1),
            latency.COVERING: variant(latency.COVERING, covering),
        },
    )


def test_the_default_series_is_what_half_the_memory_holds() -> None:
    assert default_series(24 * GiB, 72 * GiB, quick=False) == SERIES
    # 2 GiB of memory: 1 GiB budget holds 300k (480 MB) but not 1M (1.6 GB).
    assert default_series(2 * GiB, 72 * GiB, quick=False) == (100_000, 300_000)
    # The disk limits as well: a quarter of 8 GiB holds 1M (1.6 GB), not 3M.
    assert default_series(64 * GiB, 8 * GiB, quick=False)[-1] == 1_000_000
    # A tiny machine still measures one point, and --quick is one small point anywhere.
    assert default_series(GiB // 4, GiB, quick=False) == (100_000,)
    assert default_series(24 * GiB, 72 * GiB, quick=True) == QUICK_SERIES
    assert 12 * GiB >= 3_000_000 * BYTES_PER_MESSAGE


def test_sizes_parse_sorted_and_distinct() -> None:
    assert parse_series("3000000, 100000,1e6,1_000_000") == (100_000, 1_000_000, 3_000_000)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("100k", "'100k' is not a number of rows"),
        ("1.5e3, 10", "'10': a size is a whole number of rows, at least 1000"),
        ("2500.5", "'2500.5': a size is a whole number of rows"),
        (" , ", "no size given"),
    ],
)
def test_a_bad_size_says_which(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
        parse_series(text)


def test_a_database_smaller_than_the_series_ends_it_at_what_it_holds() -> None:
    assert within((100_000, 1_000_000), 5_000_000) == (100_000, 1_000_000)
    assert within((100_000, 1_000_000, 3_000_000), 1_500_000) == (100_000, 1_000_000, 1_500_000)
    assert within((100_000, 1_000_000), 1_000_000) == (100_000, 1_000_000)
    assert within((100_000,), 40_000) == (40_000,)


def test_the_report_shows_each_size_and_judges_the_floor_at_every_size(tmp_path: Path) -> None:
    points = [
        _point(100_000, no_index=20.0, covering=0.2, floor=0.1),
        _point(1_000_000, no_index=160.0, covering=0.25, floor=0.1),
        # The worst floor ratio is at the middle size of this made-up series.
        _point(3_000_000, no_index=480.0, covering=0.24, floor=0.1),
    ]
    points[1] = ScalePoint(points[1].rows, _lat(0.1, p95=0.1), points[1].variants)
    results = BenchResults(server_version=180001, scaling=points, recommended=9)
    results.pool = {d: {1: (100.0, 5.0), 9: (200.0, 4.0)} for d in ("psycopg async", "asyncpg")}
    assert results.speedup() == pytest.approx(2000.0)
    assert results.floor_ratio() == pytest.approx(0.25 * 1.5 / 0.1)
    config = BenchConfig.for_scales((100_000, 1_000_000, 3_000_000), quick=False)
    path = write_bench_report(results, config, tmp_path, "python -m dbtune bench --scale x")
    report = path.read_text()
    assert "| 100,000 | 20.0 | 0.220 | 0.200 | 0.300 | 0.150 | 100x | 2.0x |" in report
    assert "| 3,000,000 | 480.0 |" in report
    assert "| 2,000x | 2.4x |" in report
    assert "At 3,000,000 rows the covering index is **2,000x** faster" in report
    assert "within **3.8x** of the `SELECT 1` round trip at every size" in report
    assert "the sequential scan's p50 grew 24.0x and the covering index's 1.2x" in report
    assert "## Hot query at 3,000,000 rows" in report
    assert (tmp_path / "bench-scaling.png").stat().st_size > 10_000
