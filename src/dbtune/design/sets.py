"""The sets of candidates a query may use together, planned: options for the solver.

A query's cost under a design is not the least of its costs under single candidates: a join
may need an index on each side, and three tables three indexes. The solver chooses, per
query, among options — one candidate, or a set — each with the cost the planner gave the
query with exactly those indexes in place (:class:`~dbtune.design.measure.WhatIfCache`).
This module finds the sets worth planning:

- :func:`options` before the first solve: pairs of each query's best candidates, the set its
  plan reads with all its candidates in place (and its neighbours), and its own frontier
  (the cheapest way to spend bytes on it, step by step);
- :func:`learn` after each solve: the sets the queries' plans read with the chosen indexes
  (and with their own best beside them), and their neighbours, where they beat what the
  solver credited.

A set's cost is the cost of the plan that read it: that plan is there with those indexes
alone, and no cheaper one appears with fewer indexes.

All of it is for HypoPG, whose indexes cost nothing to make. Under rolled-back builds every
what-if builds its indexes (a second or so each on a table near the build limit), so there
only what the solution's plans read is learnt, at one build of the chosen set per round.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from dbtune.design.measure import WhatIfCache
from dbtune.design.solver import Candidate, QueryCosts, Selection, exclusive
from dbtune.workload import QueryProfile

Costs = dict[tuple[int, ...], tuple[float, bool]]
"""Options of one query: the members (candidate positions) -> (estimated cost, passes)."""
Row = Mapping[int, tuple[float, bool]]
"""One query's costs with each candidate alone."""

PAIRED_PER_TABLE = 3
"""A query's pairs are made of its best candidates on each table it reads, this many each."""
TOGETHER_PER_TABLE = 64
"""A query's best set is planned from its best candidates on each table, this many each."""
FRONTIER_STEPS = 6
"""How many indexes a query's own frontier grows to (see :func:`frontier`)."""
FRONTIER_PER_TABLE = 8
"""The candidates on each of its tables a query's frontier chooses from."""
LEARN_GAIN = 0.01
"""A set is learnt when it beats what the solver credited by this share (planner noise)."""


def best_per_table(
    row: Row, candidates: Sequence[Candidate], per_table: int, below: float, apart: bool = False
) -> list[int]:
    """The query's candidates cheaper than ``below`` alone, cheapest first, ``per_table`` on
    each table at most; ``apart``: of two that cannot be chosen together (one name, one key
    leading the other's) only the cheaper."""
    taken: list[int] = []
    counted: dict[tuple[str, str], int] = {}
    for i in sorted((i for i, (cost, _) in row.items() if cost < below), key=lambda i: row[i][0]):
        table = candidates[i].table
        if counted.get(table, 0) >= per_table or (apart and _clashes(candidates, taken, i)):
            continue
        taken.append(i)
        counted[table] = counted.get(table, 0) + 1
    return taken


def pairs_for(base: float, row: Row, candidates: Sequence[Candidate]) -> list[tuple[int, int]]:
    """The pairs worth planning for a query: two of its cheaper-than-today candidates, each
    among the :data:`PAIRED_PER_TABLE` best on its table, never two that cannot be chosen
    together."""
    best = sorted(best_per_table(row, candidates, PAIRED_PER_TABLE, base))
    return [
        (a, b) for n, a in enumerate(best) for b in best[n + 1 :]
        if not exclusive(candidates[a], candidates[b])
    ]  # fmt: skip


def together_for(base: float, row: Row, candidates: Sequence[Candidate]) -> tuple[int, ...]:
    """The query's candidates no dearer than today alone (one may pay only beside another),
    the :data:`TOGETHER_PER_TABLE` best on each table, none two that cannot be chosen
    together: planned all at once, the plan reads the set that serves the query best."""
    below = math.nextafter(base, math.inf)
    return tuple(sorted(best_per_table(row, candidates, TOGETHER_PER_TABLE, below, apart=True)))


def options(
    cache: WhatIfCache,
    profiles: Sequence[QueryProfile],
    rows: Mapping[str, Row],
    bases: Mapping[str, float],
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[dict[str, Costs], dict[str, tuple[int, ...]]]:
    """Each query's sets worth offering the solver (query key -> options), and the set of
    its best candidates (query key -> members) that :func:`learn` tries again beside a
    solution; nothing under rolled-back builds (see above)."""
    if cache.engine != "hypopg":
        return {p.key: {} for p in profiles}, {}
    wanted = {p.key: pairs_for(bases[p.key], rows[p.key], cache.candidates) for p in profiles}
    found = _pairs(cache, profiles, wanted, progress)
    together = {p.key: together_for(bases[p.key], rows[p.key], cache.candidates) for p in profiles}
    for p in profiles:
        progress(f"the best sets for {p.key}")
        if len(together[p.key]) >= 3:  # one or two: the singles and pairs have them
            found[p.key].update(read_sets(cache, p, together[p.key]))
        for per_byte in (True, False):
            found[p.key].update(frontier(cache, p, bases[p.key], rows[p.key], per_byte))
    return found, together


def _pairs(
    cache: WhatIfCache,
    profiles: Sequence[QueryProfile],
    wanted: Mapping[str, list[tuple[int, int]]],
    progress: Callable[[str], None],
) -> dict[str, Costs]:
    """query key -> pair -> (estimated cost, passes), each pair made once for the queries
    that want it."""
    by_pair: dict[tuple[int, int], list[QueryProfile]] = {}
    for p in profiles:
        for pair in wanted.get(p.key, []):
            by_pair.setdefault(pair, []).append(p)
    found: dict[str, Costs] = {p.key: {} for p in profiles}
    for n, (pair, readers) in enumerate(sorted(by_pair.items())):
        progress(f"pair {n + 1} of {len(by_pair)}")
        for p, outcome in zip(readers, cache.plan(readers, pair), strict=True):
            if outcome is not None:
                found[p.key][pair] = outcome
    return found


def frontier(cache: WhatIfCache, profile: QueryProfile, base: float, row: Row,
             per_byte: bool) -> Costs:  # fmt: skip
    """The query's own cheapest way to spend bytes: from none of its candidates, add the one
    that cuts its cost most (per byte, what a small budget wants; or per step, what a large
    one wants: tiny indexes on tiny tables win per byte and save little), planned with those
    before it, and again, up to :data:`FRONTIER_STEPS`; each set of two or more is an option.
    A join whose indexes pay only together is found step by step."""
    pool = best_per_table(row, cache.candidates, FRONTIER_PER_TABLE,
                          math.nextafter(base, math.inf), apart=True)  # fmt: skip
    chosen: list[int] = []
    cost, found = base, {}
    for _ in range(FRONTIER_STEPS):
        best: tuple[float, int, tuple[float, bool]] | None = None
        for i in pool:
            if i in chosen or _clashes(cache.candidates, chosen, i):
                continue
            (out,) = cache.plan([profile], sorted([*chosen, i]))
            if out is not None and out[0] < cost:
                ratio = (cost - out[0]) / (max(cache.sizes.get(i, 0), 1) if per_byte else 1)
                if best is None or ratio > best[0]:
                    best = (ratio, i, out)
        if best is None:
            break
        chosen.append(best[1])
        cost = best[2][0]
        if len(chosen) >= 2:
            found[tuple(sorted(chosen))] = best[2]
    return found


def read_sets(
    cache: WhatIfCache,
    profile: QueryProfile,
    members: Sequence[int],
    others: Sequence[int] = (),
    neighbours: bool = True,
) -> Costs:
    """The set the query's plan reads with ``members`` in place (two or more), with its cost,
    and its neighbours, each planned: the set with one member cut to its one-column prefix
    (the planner favours a wider index by a sliver; the narrower may cost half the bytes),
    and with one member swapped for one of ``others`` on its table (an index chosen for
    another query, which this one could share)."""
    (outcome,) = cache.plan([profile], members)
    read = cache.used_by(profile, members)
    if outcome is None or len(read) < 2:
        return {}
    found = {read: outcome}
    for n, i in enumerate(read if neighbours else ()):
        rest = {*read[:n], *read[n + 1 :]}
        table = cache.candidates[i].table
        swaps = [j for j in others if cache.candidates[j].table == table]
        for j in [_prefix_of(cache.candidates, i), *swaps]:
            if j is None or j in read or _clashes(cache.candidates, rest, j):
                continue
            trial = tuple(sorted({*rest, j}))
            (near,) = cache.plan([profile], trial)
            if near is not None:
                found[trial] = near
    return found


def learn(
    cache: WhatIfCache,
    profiles: Sequence[QueryProfile],
    costs: list[QueryCosts],
    together: Mapping[str, tuple[int, ...]],
    selection: Selection,
) -> bool:
    """Plan every query with the chosen set, and with the chosen set and its own best
    candidates; where the set its plan read (two or more), or a neighbour of it, beats the
    option the solver credited, add it to ``costs``. Whether anything was added."""
    candidates, learnt = cache.candidates, False
    chosen = list(selection.chosen)
    if cache.engine != "hypopg":  # one build of the chosen set, what its plans read
        cache.plan(profiles, chosen)
    for n, p in enumerate(profiles):
        q = costs[n]
        mine = [i for i in together.get(p.key, ()) if i not in chosen
                and not _clashes(candidates, chosen, i)]  # fmt: skip
        near = [*chosen, *best_per_table(q.with_candidate, candidates, PAIRED_PER_TABLE, math.inf)]
        served = selection.served_by.get(q.key, ())
        credited = q.options()[served][0] if served else q.base
        free = cache.engine == "hypopg"
        for members in (chosen, sorted([*chosen, *mine])) if free else (chosen,):
            new = {
                read: outcome for read, outcome in read_sets(cache, p, members, near, free).items()
                if read not in costs[n].options() and outcome[0] < credited * (1 - LEARN_GAIN)
            }  # fmt: skip
            if new:
                costs[n] = replace(costs[n], with_set={**costs[n].with_set, **new})
                learnt = True
    return learnt


def _clashes(candidates: Sequence[Candidate], chosen: Iterable[int], new: int) -> bool:
    return any(exclusive(candidates[i], candidates[new]) for i in chosen)


def _prefix_of(candidates: Sequence[Candidate], position: int) -> int | None:
    """The candidate whose key is this one's without its last column (same table, plain)."""
    s = candidates[position].suggestion
    if len(s.columns) < 2 or s.include or s.where is not None:
        return None
    table = candidates[position].table
    for j, c in enumerate(candidates):
        t = c.suggestion
        if c.table == table and t.columns == s.columns[:-1] and not t.include and t.where is None:
            return j
    return None
