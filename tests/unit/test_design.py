"""The workload's index design: candidates and merges, and the exact selection (CP-SAT) on
cost matrices made by hand, where the right answer is known."""

from __future__ import annotations

import pytest

from dbtune.design import costs_of, solver
from dbtune.design.budget import parse_budget, parse_budgets, size_text
from dbtune.design.sets import pairs_for, together_for
from dbtune.design.solver import (
    Candidate,
    QueryCosts,
    best_served,
    candidates_with_merges,
    prefix_redundant,
    select,
)
from dbtune.errors import UsageError
from dbtune.query.advice import Suggestion
from dbtune.query.result import QueryResult
from dbtune.workload import HotQuery, QueryProfile


def _s(name: str, *columns: str, include: tuple[str, ...] = (), table: str = "t") -> Suggestion:
    return Suggestion("public", table, name, columns, include)


def test_suggestions_sharing_a_prefix_are_merged_and_kept_apart_too() -> None:
    found = candidates_with_merges([
        (_s("ix_a", "user_id", include=("role",)), "q1"),
        (_s("ix_ab", "user_id", "created_at DESC"), "q2"),
        (_s("ix_ab", "user_id", "created_at DESC"), "q3"),  # the same index for another query
        (_s("ix_c", "status", table="u"), "q4"),
    ])  # fmt: skip
    names = [(c.suggestion.name, c.suggestion.include, c.sources, c.aliases) for c in found]
    assert names == [
        ("ix_a", ("role",), ("q1",), ()),
        ("ix_ab", (), ("q2", "q3"), ()),
        ("ix_c", (), ("q4",), ()),
        ("ix_ab", ("role",), ("q2", "q3", "q1"), ("ix_a",)),  # the merge keeps the long name
    ]
    merged = found[-1]
    assert merged.answers_to("ix_a")
    assert merged.answers_to("ix_ab")
    assert not merged.answers_to("ix_c")


def test_prefix_redundancy_reads_directions() -> None:
    assert prefix_redundant(_s("a", "x"), _s("b", "x", "y"))
    assert prefix_redundant(_s("a", "x DESC"), _s("b", "x", "y"))  # read backwards
    assert not prefix_redundant(_s("a", "y"), _s("b", "x", "y"))
    assert not prefix_redundant(_s("a", "x"), _s("b", "x", "y", table="u"))


def _candidates(*suggestions: Suggestion) -> list[Candidate]:
    return [Candidate(s, ()) for s in suggestions]


def test_one_index_serving_two_queries_beats_two_indexes() -> None:
    """q1 and q2 each have their own best index, but the merged one serves both almost as
    well: least cost picks per-query indexes; with one index per table, the merge."""
    candidates = _candidates(_s("ix_a", "a"), _s("ix_ab", "a", "b"), _s("ix_c", "c"))
    costs = [
        QueryCosts("q1", 1, 1000, False, {0: (10, True), 1: (12, True)}),
        QueryCosts("q2", 1, 1000, False, {1: (10, True)}),
        QueryCosts("q3", 1, 50, True, {2: (40, True)}),
    ]
    free = select(candidates, costs)
    assert free.chosen == (1, 2)  # ix_a and ix_ab are prefix-redundant: never both
    assert free.served_by == {"q1": (1,), "q2": (1,), "q3": (2,)}
    assert free.cost_before == 2050
    assert free.cost_after == 62
    assert free.optimal
    one = select(candidates, costs, max_per_table=1)
    assert one.chosen == (1,)  # all three are on table t: then only ix_ab
    overheads = zip(candidates, (0.1, 0.2, 0.5), strict=True)
    weighed = [Candidate(c.suggestion, (), overhead=o) for c, o in overheads]
    capped = select(weighed, costs, max_write_overhead=0.3)
    assert capped.chosen == (1,)  # ix_c (overhead 0.5) is over the limit; q3 stays as it is
    assert capped.served_by["q3"] == ()


def test_a_failing_query_is_fixed_even_at_a_higher_cost_and_weights_count() -> None:
    candidates = _candidates(_s("ix_fast", "a"), _s("ix_fix", "b"))
    costs = [
        QueryCosts("fails", 1, 100, False, {0: (5, False), 1: (90, True)}),
        QueryCosts("hot", 1000, 100, True, {0: (1, True)}),
        QueryCosts("hopeless", 1, 100, False, {}),
    ]
    chosen = select(candidates, costs)
    assert chosen.served_by["fails"] == (1,)
    assert chosen.served_by["hot"] == (0,)
    assert chosen.unfixable == ("hopeless",)
    none = select(candidates, costs, max_per_table=0)  # limits first: then nothing is fixed
    assert none.chosen == ()
    assert none.cost_after == none.cost_before


def test_two_candidates_of_one_name_are_never_both_chosen() -> None:
    """The advisor names a suggestion after the workload's expected index: two queries may
    get two definitions of one name; the one that fixes more wins."""
    candidates = _candidates(_s("ix_t", "a", include=("x",)), _s("ix_t", "a DESC", "b"))
    costs = [
        QueryCosts("q1", 1, 100, False, {0: (10, True), 1: (20, False)}),
        QueryCosts("q2", 1, 100, False, {0: (15, True), 1: (5, True)}),
    ]
    chosen = select(candidates, costs)
    assert chosen.chosen == (0,)
    assert chosen.served_by == {"q1": (0,), "q2": (0,)}


def test_a_storage_budget_is_never_exceeded_and_buys_the_most_per_byte() -> None:
    """Three indexes, 30, 50 and 80 kB: at 100 kB the best pair that fits, at 0 none, and
    unbounded every one that helps. Sizes are rounded up and the budget down to KiB."""
    candidates = [
        Candidate(_s("ix_a", "a"), (), bytes=30 * 1024),
        Candidate(_s("ix_b", "b", table="u"), (), bytes=50 * 1024),
        Candidate(_s("ix_c", "c", table="v"), (), bytes=80 * 1024 + 1),
    ]
    costs = [
        QueryCosts("qa", 1, 1000, True, {0: (400, True)}),
        QueryCosts("qb", 1, 1000, True, {1: (300, True)}),
        QueryCosts("qc", 1, 1000, True, {2: (100, True)}),
    ]
    free = select(candidates, costs)
    assert free.chosen == (0, 1, 2)
    assert free.budget_bytes is None
    fits = select(candidates, costs, budget_bytes=100 * 1024)
    assert fits.chosen == (0, 1)  # ix_c alone would save more, but is 1 byte over 80 kB
    assert fits.chosen_bytes(candidates) <= 100 * 1024
    assert fits.relative_cost == (400 + 300 + 1000) / 3000
    only_c = costs[2:]
    assert select(candidates, only_c, budget_bytes=80 * 1024 + 1).chosen == ()  # 81 kB > 80
    assert select(candidates, only_c, budget_bytes=81 * 1024).chosen == (2,)
    assert select(candidates, costs, budget_bytes=0).chosen == ()


def test_a_join_needing_an_index_on_each_side_is_credited_with_the_pair() -> None:
    """Alone each index saves little; together they turn the join into index lookups. With
    room for two, the pair; with room for one, the single that saves the most."""
    candidates = [
        Candidate(_s("ix_orders", "customer_id", table="orders"), (), bytes=10),
        Candidate(_s("ix_lines", "order_id", table="lines"), (), bytes=10),
        Candidate(_s("ix_other", "x", table="other"), (), bytes=10),
    ]
    join = QueryCosts("join", 1, 1000, True, {0: (850, True), 1: (800, True)},
                      {(0, 1): (50, True)})  # fmt: skip
    other = QueryCosts("other", 1, 1000, True, {2: (700, True)})
    both = select(candidates, [join, other], budget_bytes=2 * 1024)
    assert both.chosen == (0, 1)
    assert both.served_by == {"join": (0, 1), "other": ()}
    assert both.cost_after == 50 + 1000
    one = select(candidates, [join, other], budget_bytes=1024)
    assert one.chosen == (2,)  # 300 saved beats ix_lines' 200
    assert one.serving(2) == ["other"]
    assert best_served([join, other], (0,)) == {"join": (0,), "other": ()}
    assert best_served([join, other], (0, 1, 2)) == {"join": (0, 1), "other": (2,)}


def test_storage_budgets_are_read_as_people_write_them() -> None:
    assert parse_budget("512MB").bytes == 512 * 1024**2
    assert parse_budget("1.5GB").bytes == int(1.5 * 1024**3)
    assert parse_budget("800kB").bytes == 800 * 1024
    assert parse_budget("0.25x").resolve(4000) == 1000
    assert parse_budget("2x").share == 2.0
    assert [b.text for b in parse_budgets("0.25x, 1GB,3x")] == ["0.25x", "1GB", "3x"]
    for wrong in ("", "MB", "12 parsecs", "-1GB", "1,5GB"):
        with pytest.raises(UsageError, match="write a size"):
            parse_budget(wrong)
    assert size_text(512) == "512 B"
    assert size_text(3 * 1024**2 // 2) == "1.5 MB"


def test_pairs_are_made_of_each_tables_best_candidates_and_never_exclusive_ones() -> None:
    candidates = [
        Candidate(_s("ix_a", "a"), ()),
        Candidate(_s("ix_ab", "a", "b"), ()),  # leads with ix_a's key: never beside it
        Candidate(_s("ix_c", "c"), ()),
        Candidate(_s("ix_d", "d"), ()),
        Candidate(_s("ix_e", "e"), ()),  # fourth best on t: not paired
        Candidate(_s("ix_u", "x", table="u"), ()),
        Candidate(_s("ix_w", "x", table="w"), ()),  # no cheaper than today: not paired
    ]
    row = {0: (10.0, True), 1: (20.0, True), 2: (30.0, True), 3: (40.0, True),
           4: (50.0, True), 5: (60.0, True), 6: (100.0, True)}  # fmt: skip
    assert pairs_for(100.0, row, candidates) == [(0, 2), (0, 5), (1, 2), (1, 5), (2, 5)]


def test_a_querys_best_set_takes_the_best_per_table_and_never_two_exclusive_ones() -> None:
    candidates = [
        Candidate(_s("ix_a", "a"), ()),
        Candidate(_s("ix_ab", "a", "b"), ()),  # leads with ix_a's key: the cheaper of the two
        Candidate(_s("ix_c", "c"), ()),
        Candidate(_s("ix_u", "x", table="u"), ()),
        Candidate(_s("ix_w", "x", table="w"), ()),  # dearer than today: left out
        Candidate(_s("ix_v", "x", table="v"), ()),  # as today alone: may help beside others
    ]
    row = {0: (30.0, True), 1: (20.0, True), 2: (40.0, True), 3: (50.0, True),
           4: (120.0, True), 5: (100.0, True)}  # fmt: skip
    assert together_for(100.0, row, candidates) == (1, 2, 3, 5)


def test_a_set_counts_only_where_it_beats_every_part_the_solver_has() -> None:
    """A pair must beat its members, a triple its members and its pairs, by the gain."""
    before = QueryResult(HotQuery(name="q", sql="SELECT 1"), "default", {}, None, ())
    row = {0: (80.0, True), 1: (90.0, True), 2: (95.0, True)}
    sets = {(0, 1): (50.0, True), (0, 1, 2): (48.0, True), (1, 2): (89.0, True)}
    costs = costs_of(QueryProfile(before.query, "default", {}), before, row, sets, gain=0.1)
    assert dict(costs.with_set) == {(0, 1): (50.0, True)}  # the triple saves 4 % on the pair
    loose = costs_of(QueryProfile(before.query, "default", {}), before, row, sets, gain=0.0)
    assert set(loose.with_set) == {(0, 1), (0, 1, 2), (1, 2)}


def test_the_tiebreak_is_short_and_never_keeps_an_index_for_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cost is what the solve proves optimal; the last phase (fewest indexes at that cost)
    only breaks ties, in its own short time, and an option no better than the query as it is
    is no reason for an index, whatever that phase reached."""
    monkeypatch.setattr(solver, "TIEBREAK_SECONDS", 1e-6)
    candidates = _candidates(
        _s("ix_a", "a"), _s("ix_b", "b", table="u"), _s("ix_c", "c", table="v")
    )
    costs = [
        QueryCosts("q1", 1, 1000, True, {0: (100, True), 2: (1000, True)}),
        QueryCosts("q2", 1, 500, True, {1: (400, True)}),
        QueryCosts("q3", 1, 300, True, {2: (300, True)}),  # ix_c: the same cost as today
    ]
    chosen = select(candidates, costs)
    assert chosen.optimal
    assert chosen.chosen == (0, 1)
    assert chosen.served_by == {"q1": (0,), "q2": (1,), "q3": ()}
    assert chosen.cost_after == 100 + 400 + 300
