"""pool tune's arithmetic: which sizes, the knee, the formula's share, a client-bound cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtune.bench.plots import pool_tune_plot
from dbtune.bench.pool_tune import Call, Cell, Mix, Sweep, render_markdown, sizes_to_try, verdict
from dbtune.errors import UsageError


def _sweep(by_size: dict[int, list[float]], *, cpu: float = 0.3, recommended: int = 9) -> Sweep:
    result = Sweep("psycopg", 64, 3.0, recommended)
    for size, rates in by_size.items():
        result.cells[size] = [Cell(q, 10.0 / size + 1, cpu, 0.8) for q in rates]
    return result


def test_sizes_are_powers_of_two_the_formula_and_the_cap() -> None:
    assert sizes_to_try(9, 64, None) == [1, 2, 4, 8, 9, 16, 32, 64]
    assert sizes_to_try(9, 20, None) == [1, 2, 4, 8, 9, 16, 20]
    # The server's budget caps every size, the formula's too when it does not fit.
    assert sizes_to_try(9, 64, 6) == [1, 2, 4, 6]


def test_the_knee_is_the_smallest_size_near_the_best_median() -> None:
    result = _sweep(
        {1: [400, 420], 2: [800, 760], 4: [990, 1010], 9: [1000, 1040], 16: [1020, 980]}
    )
    # Medians: 410, 780, 1000, 1020, 1000. Best 9; 95 % of 1020 is 969: size 4 reaches it.
    assert result.best() == 9
    assert result.knee() == 4
    assert result.share(1) == pytest.approx(410 / 1020)
    text = verdict(result)
    assert text[0].startswith("Knee: max_size 4 reaches 98% of the best median throughput")
    assert text[1].startswith("2 x CPU + 5 = 9 gives 100% of the best")
    assert len(text) == 2  # no client-bound cell, no error


def test_a_client_that_used_its_core_is_named_as_the_bottleneck() -> None:
    result = _sweep({1: [400], 2: [800]}, cpu=0.3)
    result.cells[4] = [Cell(810, 3.0, 0.97, 1.0)]
    assert result.client_bound() == [4]
    assert any("max_size 4: there this one Python process" in line for line in verdict(result))


def test_failed_calls_are_counted_and_all_failing_is_an_error() -> None:
    result = _sweep({1: [400]})
    result.cells[2] = [Cell(300, 3.0, 0.3, 0.5, errors=3, first_error="q: boom")]
    assert (
        "3 calls failed during the sweep and are not counted; the first: q: boom"
        in verdict(result)[-1]
    )
    dead = Sweep("asyncpg", 8, 1.0, 9, {1: [Cell(0, float("nan"), 0.1, 0.1, 5, "q: refused")]})
    with pytest.raises(UsageError, match="no call succeeded at any pool size; the first error: q"):
        dead.best()


def test_the_report_marks_knee_and_formula_and_lists_what_did_not_run(tmp_path: Path) -> None:
    result = _sweep({1: [400, 420], 4: [990, 1010], 9: [1000, 1040]})
    mix = Mix(
        (Call("recent_messages[heavy]", "SELECT 1", {}, "SELECT 1"),),
        ("add_message: a write; pool tune runs reads only",),
    )
    text = render_markdown(result, mix, command="dbtune pool tune", machine="2 CPUs")
    assert "| **4** (knee) | 1,000 | 990-1,010 |" in text
    assert "| **9** (2 x CPU + 5) | 1,020 | 1,000-1,040 |" in text
    assert "Queries (1, drawn at random): `recent_messages[heavy]`" in text
    assert "- add_message: a write; pool tune runs reads only" in text
    pool_tune_plot(result, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 10_000
