"""The measured verdicts (advise/proof.py, explain's build what-if) on recorded figures: the
[proof] issue's count that a primary-key-shaped index made 1.6x slower while its estimated
cost fell is refused."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from functools import partial

from dbtune.checks import CheckResult
from dbtune.design.proof import Measured, Timing, confirmed, refuted
from dbtune.design.solver import Candidate
from dbtune.explain.best_plan import accept_if_no_index_helps
from dbtune.query.advice import Advice, Measure, Suggestion, WhatIf
from dbtune.query.result import QueryResult
from dbtune.workload import Expectations, HotQuery

SEQ = Timing(1.7, 170, "Aggregate > Seq Scan on trials", frozenset())
PK_SHAPED = Timing(2.8, 9_517, "Aggregate > Index Scan using ix_pk on trials",
                   frozenset({"ix_pk"}))  # fmt: skip


def _candidate(name: str) -> Candidate:
    return Candidate(Suggestion("public", "trials", name, ("trial_id",)), ("q[default]",))


def test_verdicts() -> None:
    assert Measured("q", SEQ, PK_SHAPED).verdict == "slower"
    assert Measured("q", PK_SHAPED, SEQ).verdict == "faster"
    fewer_buffers = Timing(1.75, 100, "Index Only Scan", frozenset())
    assert Measured("q", SEQ, fewer_buffers).verdict == "faster"  # time the same, reads less
    noise = Timing(0.012, 3, "Index Scan", frozenset())
    assert Measured("q", Timing(0.008, 3, "Index Scan", frozenset()), noise).verdict == "same"
    # The same plan both ways: 30 % apart is the machine, not the design.
    unchanged = Measured("q", SEQ, Timing(2.2, 170, SEQ.plan, frozenset()))
    assert unchanged.verdict == "same"


def test_an_index_that_makes_a_statement_slower_is_refused() -> None:
    measured = {"q[default]": Measured("q[default]", SEQ, PK_SHAPED)}
    why = refuted([_candidate("ix_pk")], {"ix_pk": ["q[default]"]}, measured)
    assert why["ix_pk"].startswith("made a statement slower: q[default]: 1.700 ms, 170 buffers")
    # Even when the workload names it: a slower statement is never "fixed".
    assert refuted([_candidate("ix_pk")], {"ix_pk": ["q[default]"]}, measured, ["ix_pk"])


def test_a_refusal_on_timings_counts_only_when_measured_again() -> None:
    """A slower median once (another process's burst of load) refuses nothing when the
    statement, measured again both sides, is not slower; a real loss shows twice."""
    q = "q[default]"
    judge = partial(refuted, [_candidate("ix_pk")], {"ix_pk": [q]})
    calm = Timing(1.2, 9_517, PK_SHAPED.plan, PK_SHAPED.indexes)  # the index, measured again
    asked: list[Collection[str]] = []

    def again(second: Timing) -> Callable[[Collection[str]], dict[str, Measured]]:
        def measure(keys: Collection[str]) -> dict[str, Measured]:
            asked.append(set(keys))
            return {q: Measured(q, SEQ, second)}

        return measure

    noisy = {q: Measured(q, SEQ, PK_SHAPED)}
    assert confirmed(noisy, judge, again(calm)) == {}
    assert asked == [{q}]
    assert noisy[q].after == calm  # the report shows the second figures
    real = {q: Measured(q, SEQ, PK_SHAPED)}
    assert confirmed(real, judge, again(PK_SHAPED))["ix_pk"].startswith("made a statement slower")
    # Refuted by plans alone (no statement uses it): nothing to measure again.
    unused = {q: Measured(q, SEQ, SEQ)}
    assert confirmed(unused, judge, again(calm)) == {
        "ix_pk": "no measured statement's plan uses it"
    }
    assert len(asked) == 2


def test_no_gain_refutes_unless_the_workload_names_the_index() -> None:
    same = Timing(1.69, 170, "Index Scan using ix_pk", frozenset({"ix_pk"}))
    measured = {"q[default]": Measured("q[default]", SEQ, same)}
    served = {"ix_pk": ["q[default]"]}
    assert (
        "no statement that uses it got measurably faster"
        in refuted([_candidate("ix_pk")], served, measured)["ix_pk"]
    )
    assert refuted([_candidate("ix_pk")], served, measured, ["ix_pk"]) == {}


def test_an_unmeasured_statement_refutes_nothing() -> None:
    """A write or a $n text cannot be executed: an index only it uses is not refuted."""
    assert refuted([_candidate("ix_pk")], {"ix_pk": ["w[default]"]}, {}) == {}
    unused = refuted([_candidate("ix_pk")], {"ix_pk": ["q[default]"]},
                     {"q[default]": Measured("q[default]", SEQ, SEQ)})  # fmt: skip
    assert unused == {"ix_pk": "no measured statement's plan uses it"}


def test_a_build_what_if_that_is_measured_slower_does_not_pass() -> None:
    """explain's build what-if: every check passes with the index, but the median run is
    slower (the issue's count), so it is not the fix; a HypoPG what-if is never measured."""
    seq = Measure("Aggregate > Seq Scan on t", 1_430.0, 1.7, 170, ("no_seq_scan",))
    pk_shaped = Measure("Aggregate > Index Scan using ix on t", 520.0, 2.8, 9_517, ())
    built = WhatIf("build", seq, pk_shaped)
    assert built.verdict == "slower"
    assert not built.passes
    hypothetical = WhatIf("hypopg", seq, replace(pk_shaped, time_ms=None, buffers=None))
    assert hypothetical.verdict is None
    assert hypothetical.passes  # an estimate: the report says so, nothing measured refutes it
    faster = WhatIf("build", seq, replace(pk_shaped, time_ms=0.2, buffers=4))
    assert faster.passes


def test_the_verdict_for_an_index_measured_slower_is_accepted_with_the_figures() -> None:
    seq = Measure("Seq Scan on logs", 4_676.5, 25.4, 2_114, ("no_seq_scan",))
    index = Measure("Index Scan using ix_logs_level on logs", 291.2, 29.6, 2_282, ())
    suggestion = Suggestion("public", "logs", "ix_logs_level", ("level",))
    advice = Advice("Suggested: ...", suggestion, WhatIf("build", seq, index))
    query = HotQuery(name="errors", sql="SELECT id FROM logs WHERE level = 'e'",
                     expect=Expectations(no_seq_scan=True))  # fmt: skip
    check = CheckResult("no_seq_scan", "fail", "expected no Seq Scan")
    failing = QueryResult(query, "default", {}, None, (check,))
    result = accept_if_no_index_helps(failing, advice)
    assert result.status == "accepted"
    assert "makes it slower: cost 4,676.50, 25.400 ms" in result.checks[0].message
    strict = replace(query, expect=Expectations(no_seq_scan=True, strict=True))
    assert accept_if_no_index_helps(replace(failing, query=strict), advice).status == "fail"
