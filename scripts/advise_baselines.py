"""The published index-selection baselines, over advise's own candidates and what-if cache.

Benchmark code only (``scripts/bench_advise.py`` imports it): each algorithm chooses from
the candidates of one :class:`dbtune.commands.advise.CostMatrix` and asks the same what-if
engine (HypoPG or rolled-back builds), through a :class:`WhatIfCache` of its own so that
its what-if calls are counted apart. Only the choice differs. After Kossmann, Halfpap,
Jankrift and Schlosser, "Magic mirror in my hand, which is the best in the land?" (PVLDB
13(11), 2020), whose platform the descriptions follow:

- **Extend** (Schlosser, Kossmann, Boissier, ICDE 2019): from no index, repeatedly the step
  with the best cost reduction per added byte, a step being a new single-column index or one
  column appended to a chosen index; until no step fits the budget or helps.
- **DB2Advis** (Valentin et al., ICDE 2000): per query, the indexes its plan uses with every
  admissible candidate in place, credited with the query's cost reduction; taken greedily by
  benefit per byte into the budget; then a bounded number of random swaps that keep the
  budget and lower the total.
- **greedy** (Dexter's rule): per query, the indexes its plan uses with every candidate in
  place, kept when they halve its cost; no budget.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from dbtune.commands.advise import CostMatrix
from dbtune.design.measure import WhatIfCache, made, plan_with
from dbtune.design.solver import Candidate


@dataclass
class Evaluator:
    """The workload's estimated cost under a configuration (every member made together),
    through one cache."""

    matrix: CostMatrix
    cache: WhatIfCache

    @classmethod
    def fresh(cls, matrix: CostMatrix) -> Evaluator:
        old = matrix.cache
        return cls(matrix, WhatIfCache(old.planning, matrix.candidates, old.engine))

    def cost(self, config: Sequence[int]) -> float:
        outcomes = self.cache.plan(self.matrix.profiles, sorted(config))
        return sum(
            q.weight * (outcome[0] if outcome else q.base)
            for q, outcome in zip(self.matrix.costs, outcomes, strict=True)
        )

    def base(self) -> float:
        return sum(q.weight * q.base for q in self.matrix.costs)


def _size(candidates: Sequence[Candidate], config: Sequence[int]) -> int:
    return sum(candidates[i].bytes for i in config)


def _names_clash(candidates: Sequence[Candidate], config: Sequence[int], new: int) -> bool:
    return any(candidates[i].suggestion.name == candidates[new].suggestion.name for i in config)


def _plain(c: Candidate) -> bool:
    return not c.suggestion.include and c.suggestion.where is None and c.bytes > 0


def extend(matrix: CostMatrix, budget: int) -> tuple[list[int], Evaluator]:
    """Extend's choice within ``budget`` bytes."""
    ev = Evaluator.fresh(matrix)
    cands = matrix.candidates
    by_key = {(c.table, c.suggestion.columns): i for i, c in enumerate(cands) if _plain(c)}
    singles = [i for (_, cols), i in by_key.items() if len(cols) == 1]
    config: list[int] = []
    current = ev.cost(config)
    while True:
        used = _size(cands, config)
        steps: list[tuple[list[int], int]] = []  # (the configuration after, bytes added)
        for i in singles:
            if i not in config and not _names_clash(cands, config, i):
                steps.append(([*config, i], cands[i].bytes))
        for j in config:
            for (table, cols), k in by_key.items():
                c = cands[j]
                if table == c.table and cols[:-1] == c.suggestion.columns and k not in config:
                    rest = [i for i in config if i != j]
                    if not _names_clash(cands, rest, k):
                        steps.append(([*rest, k], cands[k].bytes - c.bytes))
        best: tuple[float, list[int], float] | None = None
        for after, added in steps:
            if used + added > budget:
                continue
            cost = ev.cost(after)
            ratio = (current - cost) / max(added, 1)
            if cost < current and (best is None or ratio > best[0]):
                best = (ratio, after, cost)
        if best is None:
            return config, ev
        config, current = best[1], best[2]


def _with_all(ev: Evaluator, index: int) -> tuple[float, list[int]] | None:
    """Query ``index`` planned with every candidate on its tables in place: its cost and the
    candidates the plan uses (None: no candidate, or no plan)."""
    cache, cands = ev.cache, ev.matrix.candidates
    profile = ev.matrix.profiles[index]
    mine = sorted(cache.relevant(profile, range(len(cands))))
    mine = [i for n, i in enumerate(mine) if not _names_clash(cands, mine[:n], i)]
    if not mine:
        return None
    with made(cache.planning.conn, [cands[i].suggestion for i in mine], cache.engine) as names:
        cache.calls += 1
        result = plan_with(cache.planning, profile, lambda _: "")
    if result.plan is None:
        return None
    shown = {names[cands[i].suggestion.name]: i for i in mine}
    return result.plan.root.total_cost, [shown[n] for n in result.plan.index_names() if n in shown]


def _used_per_query(ev: Evaluator) -> dict[int, float]:
    """Each candidate's benefit: the cost reductions of the queries whose plan, with every
    candidate on their tables in place, uses it."""
    benefit: dict[int, float] = {}
    for n, q in enumerate(ev.matrix.costs):
        if (found := _with_all(ev, n)) is not None:
            for i in found[1]:
                benefit[i] = benefit.get(i, 0.0) + max(q.weight * (q.base - found[0]), 0.0)
    return benefit


def db2advis(
    matrix: CostMatrix, budget: int, swaps: int = 200, seed: int = 7
) -> tuple[list[int], Evaluator]:
    """DB2Advis's choice within ``budget`` bytes (``swaps`` random variations tried)."""
    ev = Evaluator.fresh(matrix)
    cands = matrix.candidates
    benefit = {i: b for i, b in _used_per_query(ev).items() if b > 0 and cands[i].bytes > 0}
    order = sorted(benefit, key=lambda i: benefit[i] / cands[i].bytes, reverse=True)
    config: list[int] = []
    for i in order:
        if _size(cands, config) + cands[i].bytes <= budget:
            config.append(i)
    current = ev.cost(config)
    rng = random.Random(seed)
    rest = [i for i in order if i not in config]
    for _ in range(swaps if config and rest else 0):
        out, into = rng.choice(config), rng.choice(rest)
        trial = [i for i in config if i != out] + [into]
        if _size(cands, trial) > budget or _names_clash(cands, trial[:-1], into):
            continue
        cost = ev.cost(trial)
        if cost < current:
            config, current = trial, cost
            rest = [i for i in order if i not in config]
    return config, ev


def greedy(matrix: CostMatrix) -> tuple[list[int], Evaluator]:
    """Dexter's rule on the same candidates: per query, the indexes its plan uses with every
    candidate in place, when they halve its cost."""
    ev = Evaluator.fresh(matrix)
    kept: set[int] = set()
    for n, q in enumerate(matrix.costs):
        found = _with_all(ev, n)
        if found is not None and found[0] <= q.base / 2:
            kept |= set(found[1])
    return sorted(kept), ev
