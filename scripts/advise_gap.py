"""Where advise's model and a baseline's design part, query by query, at one budget.

advise solves over a model of each query's cost: the query planned with each candidate alone,
with pairs, and with the sets earlier solutions learnt. A baseline's design is scored by
planning every query with all its members in place. Where Extend's design scores lower than
advise's, this script names the queries that make the difference, what advise's model
credited each design with, and whether the members Extend's plan read were an option in the
model at all: the candidate space that limits advise there.

    python scripts/advise_gap.py --benchmark tpcds --sf 0.1 --budget 0.5 \\
        --dsn "host=/tmp port=5440 user=postgres dbname=postgres"
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import psycopg
from advise_baselines import Evaluator, extend
from advise_curve import _largest
from bench_advise import LEFT_OUT, _database, load_benchmark, runnable, workload

from dbtune.commands.advise import AdviseOptions, CostMatrix, choose, cost_matrix
from dbtune.design.budget import Budget, size_text
from dbtune.design.solver import SIZE_UNIT, QueryCosts, exclusive

TOP = 12


def _best_in_model(q: QueryCosts, design: set[int]) -> tuple[tuple[int, ...], float]:
    """The cheapest option of the model that ``design`` holds: what the solver counts."""
    held = [(cost, m) for m, (cost, _) in q.options().items() if set(m) <= design]
    if not held:
        return (), q.base
    cost, members = min(held)
    return members, cost


def feasible(matrix: CostMatrix, theirs: list[int], budget: int) -> None:
    """Whether advise's model could have chosen the baseline's design: its size as the solver
    counts it (KiB, each index rounded up), and the pairs the solver never holds together."""
    cands = matrix.candidates
    kib = sum(-(-cands[i].bytes // SIZE_UNIT) for i in theirs)
    pairs = [(cands[a].suggestion.name, cands[b].suggestion.name)
             for n, a in enumerate(theirs) for b in theirs[n + 1:]
             if exclusive(cands[a], cands[b])]  # fmt: skip
    model = {q.key: _best_in_model(q, set(theirs))[1] for q in matrix.costs}
    total = sum(q.weight * model[q.key] for q in matrix.costs)
    base = sum(q.weight * q.base for q in matrix.costs)
    print(f"Extend's design in advise's model: {total / base:.1%}; {kib:,} KiB against the "
          f"budget's {budget // SIZE_UNIT:,} KiB; pairs advise never holds together: "
          f"{pairs or 'none'}")  # fmt: skip
    score = Evaluator.fresh(matrix)
    planned = score.cache.plan(matrix.profiles, sorted(theirs))
    name = {i: c.suggestion.name for i, c in enumerate(cands)}
    print("\nWhere the model misjudges Extend's design (planned together below the model):\n")
    print("| query | weighted | model | planned | Extend's plan read |")
    print("|---|---|---|---|---|")
    blind = []
    for q, profile, outcome in zip(matrix.costs, matrix.profiles, planned, strict=True):
        cost = outcome[0] if outcome else q.base
        if cost < model[q.key] * 0.999:
            read = score.cache.used_by(profile, theirs)
            blind.append((q.weight * (model[q.key] - cost), q.key, model[q.key], cost, read))
    for weighted, key, was, cost, read in sorted(blind, reverse=True)[:TOP]:
        print(f"| {key} | {weighted / base:+.2%} | {was:,.0f} | {cost:,.0f} | "
              f"{', '.join(name[i] for i in read)} ({len(read)}) |")  # fmt: skip


def compare(matrix: CostMatrix, ours: list[int], theirs: list[int]) -> None:
    score = Evaluator.fresh(matrix)
    mine = score.cache.plan(matrix.profiles, sorted(ours))
    other = score.cache.plan(matrix.profiles, sorted(theirs))
    rows: list[tuple[float, str, Any]] = []
    for q, a, e in zip(matrix.costs, mine, other, strict=True):
        planned_ours = a[0] if a else q.base
        planned_theirs = e[0] if e else q.base
        read = score.cache.used_by(next(p for p in matrix.profiles if p.key == q.key), theirs)
        rows.append((q.weight * (planned_ours - planned_theirs), q.key,
                     (q, planned_ours, planned_theirs, read)))  # fmt: skip
    rows.sort(reverse=True)
    base = sum(q.weight * q.base for q in matrix.costs)
    gap = sum(r[0] for r in rows)
    print(f"\nplanned together: advise {sum(r[2][1] * r[2][0].weight for r in rows) / base:.1%}, "
          f"Extend {sum(r[2][2] * r[2][0].weight for r in rows) / base:.1%}; gap {gap / base:+.2%} "
          "of the no-index cost (positive: Extend lower)\n")  # fmt: skip
    name = {i: c.suggestion.name for i, c in enumerate(matrix.candidates)}
    print(
        "| query | weighted gap | advise planned | advise model | Extend planned | "
        "Extend model | Extend's plan read | an option of the model? |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for weighted, key, (q, planned_ours, planned_theirs, read) in rows[:TOP]:
        if weighted <= 0:
            break
        _, model_ours = _best_in_model(q, set(ours))
        _, model_theirs = _best_in_model(q, set(theirs))
        option = "yes" if tuple(sorted(read)) in q.options() or not read else "no"
        print(f"| {key} | {weighted / base:+.2%} | {planned_ours:,.0f} | {model_ours:,.0f} | "
              f"{planned_theirs:,.0f} | {model_theirs:,.0f} | "
              f"{', '.join(name[i] for i in read) or '-'} ({len(read)}) | {option} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", choices=("tpch", "tpcds"), default="tpcds")
    parser.add_argument("--sf", type=float, default=0.1)
    parser.add_argument("--budget", type=float, default=0.5, help="x the largest table")
    parser.add_argument("--dsn", help="a server with HypoPG to make the database on")
    parser.add_argument("--width", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=10)
    args = parser.parse_args()
    url = _database(args.dsn, f"dbtune_gap_{args.benchmark}", "hypopg")
    queries = load_benchmark(url, args.benchmark, args.sf)
    queries = runnable(url, queries, args.timeout, dict(LEFT_OUT.get(args.benchmark, {})))
    conn = psycopg.connect(url, autocommit=True)
    budget = int(args.budget * _largest(conn))
    options = AdviseOptions(url, workload(queries, checked=False), engine="hypopg",
                            storage_budget=Budget(f"{args.budget}x", bytes=budget),
                            max_index_columns=args.width or None)  # fmt: skip
    started = time.perf_counter()
    matrix = cost_matrix(options, conn)
    print(f"matrix: {len(matrix.candidates)} candidates, {matrix.cache.calls:,} what-if calls, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    started, calls = time.perf_counter(), matrix.cache.calls
    selection = choose(matrix, options, options.storage_budget, print)
    print(f"advise: {matrix.cache.calls - calls:,} what-if calls for the sets it learnt, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    started = time.perf_counter()
    theirs, ev = extend(matrix, budget)
    print(f"Extend: {ev.cache.calls:,} what-if calls, {time.perf_counter() - started:.0f} s")
    print(f"budget {args.budget}x = {size_text(budget)}: advise {len(selection.chosen)} indexes "
          f"(optimal: {selection.optimal}), Extend {len(theirs)}")  # fmt: skip
    print(f"advise's design in its model: {selection.relative_cost:.1%}")
    feasible(matrix, theirs, budget)
    compare(matrix, list(selection.chosen), theirs)
    conn.close()


if __name__ == "__main__":
    main()
