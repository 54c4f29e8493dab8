"""advise's measured verdicts (advise/proof.py) on recorded figures: the [proof] issue's count
that a primary-key-shaped index made 1.6x slower while its estimated cost fell is refused."""

from __future__ import annotations

from dbtune.advice import Suggestion
from dbtune.advise.proof import Measured, Timing, refuted
from dbtune.advisor.design import Candidate

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


def test_an_index_that_makes_a_statement_slower_is_refused() -> None:
    measured = {"q[default]": Measured("q[default]", SEQ, PK_SHAPED)}
    why = refuted([_candidate("ix_pk")], {"ix_pk": ["q[default]"]}, measured)
    assert why["ix_pk"].startswith("made a statement slower: q[default]: 1.700 ms, 170 buffers")
    # Even when the workload names it: a slower statement is never "fixed".
    assert refuted([_candidate("ix_pk")], {"ix_pk": ["q[default]"]}, measured, ["ix_pk"])


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
