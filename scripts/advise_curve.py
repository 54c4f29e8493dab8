"""advise against Extend and DB2Advis at every storage budget (``bench_advise.py --curve``).

One cost matrix (advise's candidates, each query planned with each candidate and with the
pairs worth planning); at each budget, advise's exact choice, Extend's and DB2Advis's, each
design then planned together (every member made at once) so that all are scored by the same
estimate; the greedy baseline and nothing, once. What-if calls are counted per algorithm,
each with a cache of its own. At three budgets the designs are built for real and the
workload is executed under each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from advise_baselines import Evaluator, db2advis, extend, greedy

from dbtune.commands.advise import AdviseOptions, CostMatrix, choose, cost_matrix
from dbtune.design.budget import Budget, size_text
from dbtune.query.advice import Suggestion
from dbtune.workload import Workload

ALGORITHMS = ("advise", "extend", "db2advis")


@dataclass
class Point:
    """One algorithm at one budget: its design, scored by the shared estimate."""

    algorithm: str
    budget: int
    chosen: list[int]
    bytes: int
    relative: float
    calls: int
    seconds: float


@dataclass
class Curve:
    matrix: CostMatrix
    largest: int  # the largest table's bytes: the budgets' unit
    matrix_seconds: float
    matrix_calls: int
    points: list[Point] = field(default_factory=list)
    once: list[Point] = field(default_factory=list)  # greedy, no budget


def _largest(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT max(pg_table_size(oid)) FROM pg_class WHERE relkind = 'r' "
        "AND relnamespace = 'public'::regnamespace"
    ).fetchone()
    return int(row[0]) if row and row[0] else 0


def run_curve(
    url: str, load: Workload, engine: str, width: int | None, shares: list[float]
) -> Curve:
    conn = psycopg.connect(url, autocommit=True)
    started = time.perf_counter()
    options = AdviseOptions(url, load, engine=engine, embedded=engine == "build",
                            budget_curve=tuple(Budget(f"{s}x", share=s) for s in shares),
                            max_index_columns=width)  # fmt: skip
    matrix = cost_matrix(options, conn)
    curve = Curve(matrix, _largest(conn), time.perf_counter() - started, matrix.cache.calls)
    print(f"\ncost matrix: {len(matrix.candidates)} candidates, {len(matrix.profiles)} queries, "
          f"{matrix.cache.calls} what-if calls, {curve.matrix_seconds:.0f} s")  # fmt: skip
    score = Evaluator.fresh(matrix)
    base = score.base()
    warm = _first_pass(matrix, options, [int(s * curve.largest) for s in shares])
    for share in shares:
        budget = int(share * curve.largest)
        for name, chooser in _choosers(matrix, options, budget).items():
            began = time.perf_counter()
            chosen, calls = chooser()
            took = time.perf_counter() - began
            if name == "advise":  # as `advise --budget-curve` does: every budget twice
                calls, took = calls + warm[budget][0], took + warm[budget][1]
            curve.points.append(Point(name, budget, chosen, _bytes(matrix, chosen),
                                      score.cost(chosen) / base, calls, took))  # fmt: skip
        print(f"budget {share}x = {size_text(budget)}: " + ", ".join(  # a stopped run says it
            f"{p.algorithm} {p.relative:.3f} ({p.calls:,} what-if calls, {p.seconds:.0f} s)"
            for p in curve.points[-3:]), flush=True)  # fmt: skip
    began = time.perf_counter()
    chosen, ev = greedy(matrix)
    curve.once.append(Point("greedy", 0, chosen, _bytes(matrix, chosen), score.cost(chosen) / base,
                            ev.cache.calls, time.perf_counter() - began))  # fmt: skip
    conn.close()
    return curve


def _first_pass(
    matrix: CostMatrix, options: AdviseOptions, budgets: list[int]
) -> dict[int, tuple[int, float]]:
    """advise at every budget once (the sets it learns serve every budget): each budget's
    what-if calls and seconds."""
    spent = {}
    for budget in budgets:
        began, calls = time.perf_counter(), matrix.cache.calls
        choose(matrix, options, Budget(str(budget), bytes=budget))
        spent[budget] = (matrix.cache.calls - calls, time.perf_counter() - began)
    return spent


def _bytes(matrix: CostMatrix, chosen: list[int]) -> int:
    return sum(matrix.candidates[i].bytes for i in chosen)


def _choosers(
    matrix: CostMatrix, options: AdviseOptions, budget: int
) -> dict[str, Callable[[], tuple[list[int], int]]]:
    def advise() -> tuple[list[int], int]:
        before = matrix.cache.calls  # the sets it learns; the matrix is counted once
        picked = choose(matrix, options, Budget(str(budget), bytes=budget))
        return list(picked.chosen), matrix.cache.calls - before

    def by_extend() -> tuple[list[int], int]:
        chosen, ev = extend(matrix, budget)
        return chosen, ev.cache.calls

    def by_db2advis() -> tuple[list[int], int]:
        chosen, ev = db2advis(matrix, budget)
        return chosen, ev.cache.calls

    return {"advise": advise, "extend": by_extend, "db2advis": by_db2advis}


def print_curve(curve: Curve, title: str) -> None:
    matrix = curve.matrix
    print(f"\n### {title}\n")
    print(f"largest table {size_text(curve.largest)}; {len(matrix.candidates)} candidates; "
          f"{len(matrix.profiles)} queries; engine {matrix.found.engine}\n")  # fmt: skip
    print("| budget | advise | Extend | DB2Advis | advise size | Extend size | DB2Advis size |")
    print("|---|---|---|---|---|---|---|")
    budgets = sorted({p.budget for p in curve.points})
    for budget in budgets:
        row = {p.algorithm: p for p in curve.points if p.budget == budget}
        cells = [f"{row[a].relative:.1%}" for a in ALGORITHMS]
        sizes = [size_text(row[a].bytes) for a in ALGORITHMS]
        print(f"| {budget / curve.largest:g}x ({size_text(budget)}) | " + " | ".join(cells + sizes)
              + " |")  # fmt: skip
    for p in curve.once:
        print(f"\n{p.algorithm} (no budget): {p.relative:.1%} with {len(p.chosen)} indexes, "
              f"{size_text(p.bytes)}, {p.calls} what-if calls, {p.seconds:.1f} s")  # fmt: skip
    print("\n| algorithm | what-if calls (all budgets) | seconds (all budgets) |")
    print("|---|---|---|")
    mine = [p for p in curve.points if p.algorithm == "advise"]
    print(f"| advise | {curve.matrix_calls} (the matrix) + {sum(p.calls for p in mine)} (sets "
          f"learnt) | {curve.matrix_seconds:.1f} (the matrix) + "
          f"{sum(p.seconds for p in mine):.1f} (solves and sets) |")  # fmt: skip
    for name in ALGORITHMS[1:]:
        mine = [p for p in curve.points if p.algorithm == name]
        print(f"| {name} | {sum(p.calls for p in mine)} | {sum(p.seconds for p in mine):.1f} |")


def plot(curve: Curve, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name in ALGORITHMS:
        mine = sorted((p.budget / curve.largest, p.relative) for p in curve.points
                      if p.algorithm == name)  # fmt: skip
        ax.plot([x for x, _ in mine], [y for _, y in mine], marker="o", label=name)
    for p in curve.once:
        ax.axhline(p.relative, linestyle=":", color="grey", label=f"{p.algorithm} (no budget)")
    ax.set_xlabel("storage budget (x the largest table's size)")
    ax.set_ylabel("estimated workload cost / no new index")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def measured(
    curve: Curve, url: str, at: list[float], run: Callable[[list[Suggestion]], dict[str, Any]]
) -> None:
    """Each algorithm's design at the budgets ``at`` (shares), built and executed."""
    print("\n| budget | algorithm | indexes | size | measured s (sum of medians) |")
    print("|---|---|---|---|---|")
    for share in at:
        budget = int(share * curve.largest)
        for p in curve.points:
            if p.budget == budget:
                chosen = [curve.matrix.candidates[i].suggestion for i in p.chosen]
                result = run(chosen)
                print(f"| {share:g}x | {p.algorithm} | {len(chosen)} | "
                      f"{size_text(result['bytes'])} | {result['seconds']:.2f} |")  # fmt: skip
