"""What the advisor prints: a fix only when nothing showed it failing; which what-if runs."""

from __future__ import annotations

from dbtune.query.advice import Advice, Measure, Suggestion, WhatIf
from dbtune.query.what_if import BUILD_ROW_LIMIT, choose_engine

SUGGESTION = Suggestion("App Schema", "Orders", "ix One", ("userRef", "createdAt DESC"))
BEFORE = Measure("Seq Scan on Orders", 100.0, 5.0, 900, ("no_seq_scan",))


def test_the_fix_is_quoted_sql_and_never_a_failing_suggestion() -> None:
    sql = (
        'CREATE INDEX CONCURRENTLY "ix One" ON "App Schema"."Orders" ("userRef", "createdAt" DESC);'
    )
    assert Advice("m", SUGGESTION).fix == sql  # unverified: printed, and said to be
    passing = WhatIf("build", BEFORE, Measure("Index Scan", 1.0, 0.1, 4, ()))
    assert Advice("m", SUGGESTION, passing).fix == sql
    assert Advice("m", SUGGESTION, passing).verified
    failing = WhatIf("build", BEFORE, Measure("Index Scan > Sort", 50.0, 2.0, 40, ("no_sort",)))
    advice = Advice("m", SUGGESTION, failing)
    assert advice.fix == ""
    assert not advice.verified
    assert "still fails no_sort: not the fix" in advice.text()
    assert SUGGESTION.call() == (
        "create_index_online('ix One', 'Orders', ['userRef', 'createdAt DESC'], "
        "schema='App Schema')"
    )


def test_which_engine_runs() -> None:
    assert choose_engine("auto", installed=True, embedded=False, rows=1e9) == ("hypopg", "")
    assert choose_engine("auto", installed=False, embedded=True, rows=10) == ("build", "")
    engine, why = choose_engine("auto", installed=False, embedded=False, rows=10)
    assert engine is None
    assert "--what-if=build" in why
    assert choose_engine("build", installed=False, embedded=False, rows=10) == ("build", "")
    engine, why = choose_engine("build", installed=True, embedded=True, rows=BUILD_ROW_LIMIT + 1)
    assert engine is None
    assert "install HypoPG" in why
    engine, why = choose_engine("hypopg", installed=False, embedded=True, rows=10)
    assert engine is None
    assert "CREATE EXTENSION hypopg" in why
