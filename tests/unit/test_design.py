"""The workload's index design: candidates and merges, and the exact selection (CP-SAT) on
cost matrices made by hand, where the right answer is known."""

from __future__ import annotations

from dbtune.design.solver import (
    Candidate,
    QueryCosts,
    candidates_with_merges,
    prefix_redundant,
    select,
)
from dbtune.query.advice import Suggestion


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
    assert free.served_by == {"q1": 1, "q2": 1, "q3": 2}
    assert free.cost_before == 2050
    assert free.cost_after == 62
    assert free.optimal
    one = select(candidates, costs, max_per_table=1)
    assert one.chosen == (1,)  # all three are on table t: then only ix_ab
    overheads = zip(candidates, (0.1, 0.2, 0.5), strict=True)
    weighed = [Candidate(c.suggestion, (), overhead=o) for c, o in overheads]
    capped = select(weighed, costs, max_write_overhead=0.3)
    assert capped.chosen == (1,)  # ix_c (overhead 0.5) is over the limit; q3 stays as it is
    assert capped.served_by["q3"] is None


def test_a_failing_query_is_fixed_even_at_a_higher_cost_and_weights_count() -> None:
    candidates = _candidates(_s("ix_fast", "a"), _s("ix_fix", "b"))
    costs = [
        QueryCosts("fails", 1, 100, False, {0: (5, False), 1: (90, True)}),
        QueryCosts("hot", 1000, 100, True, {0: (1, True)}),
        QueryCosts("hopeless", 1, 100, False, {}),
    ]
    chosen = select(candidates, costs)
    assert chosen.served_by["fails"] == 1
    assert chosen.served_by["hot"] == 0
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
    assert chosen.served_by == {"q1": 0, "q2": 0}
