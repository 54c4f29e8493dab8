"""The plan checks, on plans recorded from PostgreSQL 18."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from dbtune.checks import CheckContext, registry, run_checks
from dbtune.plan import Plan, parse_plan
from dbtune.workload import Expectations

DATA = Path(__file__).parent / "data"
DOCS = Path(__file__).parents[2] / "docs" / "checks"
COVERING = "ix_conversation_history_user_id_created_at"
BIG = {"conversation_history": 100_000.0}


def _plan(name: str) -> Plan:
    return parse_plan((DATA / name).read_text())


def _run(plan: str, **expect: object) -> dict[str, tuple[str, str]]:
    ctx = CheckContext(_plan(plan), Expectations(**expect), BIG)  # type: ignore[arg-type]
    return {r.id: (r.status, r.message) for r in run_checks(ctx)}


def test_registry_is_built_from_the_modules() -> None:
    assert set(registry()) == {
        "buffers",
        "filter_ratio",
        "generic_plan",
        "heap_fetches",
        "index_only",
        "no_seq_scan",
        "no_sort",
        "uses_index",
    }


def test_every_check_has_its_doc_page_and_no_page_is_orphaned() -> None:
    pages = {p.stem for p in DOCS.glob("*.md")}
    assert pages == set(registry())


@pytest.mark.parametrize("check_id", sorted(registry()))
def test_doc_pages_are_current(check_id: str) -> None:
    from dbtune.checks._docs import render_page

    page = (DOCS / f"{check_id}.md").read_text()
    assert page == render_page(check_id), "run: python scripts/gen_check_docs.py"


@pytest.mark.parametrize("check_id", sorted(registry()))
def test_docstring_states_problem_evidence_and_fix(check_id: str) -> None:
    doc = importlib.import_module(f"dbtune.checks.{check_id}").__doc__ or ""
    assert doc.startswith(f"{check_id}:")
    for word in ("Problem", "Evidence", "Fix"):
        assert word in doc, (check_id, word)
    page = (DOCS / f"{check_id}.md").read_text()
    assert page.startswith(f"# {check_id}")


def test_good_plan_passes() -> None:
    results = _run("recent_messages_index_scan.json", index=COVERING, no_sort=True, max_buffers=50)
    assert {k: v[0] for k, v in results.items()} == {
        "uses_index": "pass",
        "no_sort": "pass",
        "no_seq_scan": "pass",
        "buffers": "pass",
    }


def test_seq_scan_fails_and_says_what_the_plan_did() -> None:
    results = _run("recent_messages_seq_scan_sort.json", index=COVERING, no_sort=True)
    assert results["uses_index"][0] == "fail"
    assert f"expected index {COVERING}" in results["uses_index"][1]
    assert "Seq Scan on conversation_history" in results["uses_index"][1]
    assert results["no_sort"][0] == "fail"
    assert "created_at DESC" in results["no_sort"][1]
    assert results["no_seq_scan"][0] == "fail"
    assert "about 100,000 rows" in results["no_seq_scan"][1]


def test_seq_scan_on_a_small_table_is_fine_by_default() -> None:
    ctx = CheckContext(
        _plan("recent_messages_seq_scan_sort.json"), Expectations(), {"conversation_history": 500.0}
    )
    assert run_checks(ctx) == []


def test_index_only_and_heap_fetches() -> None:
    good = _run("message_listing_index_only.json", index_only=True, max_heap_fetches=0)
    assert good["index_only"][0] == "pass"
    assert good["heap_fetches"] == ("pass", "0 heap fetches (limit 0)")
    bad = _run(
        "recent_messages_index_scan.json", index=COVERING, index_only=True, max_heap_fetches=0
    )
    assert bad["index_only"][0] == "fail"
    assert "INCLUDE every selected column" in bad["index_only"][1]
    assert bad["heap_fetches"][0] == "fail"


def test_filter_ratio() -> None:
    bad = _run("recent_messages_seq_scan_sort.json", max_filter_ratio=0.5)
    assert bad["filter_ratio"][0] == "fail"
    assert "were removed by (user_id = 1)" in bad["filter_ratio"][1]
    good = _run("recent_messages_index_scan.json", max_filter_ratio=0.0)
    assert good["filter_ratio"][0] == "pass"


def test_buffers_over_the_limit() -> None:
    results = _run("recent_messages_seq_scan_sort.json", max_buffers=100)
    assert results["buffers"][0] == "fail"
    assert "touched 3170" in results["buffers"][1]


def test_measurements_are_skipped_without_analyze() -> None:
    results = _run(
        "recent_messages_plan_only.json",
        index=COVERING,
        max_buffers=10,
        max_heap_fetches=0,
        max_filter_ratio=0.1,
    )
    assert results["uses_index"][0] == "pass"
    assert {results[k][0] for k in ("buffers", "heap_fetches", "filter_ratio")} == {"skip"}


def test_generic_plan_is_checked_with_the_shape_checks() -> None:
    expect = Expectations(index=COVERING, no_sort=True, generic_plan=True)
    good = CheckContext(
        _plan("recent_messages_index_scan.json"),
        expect,
        BIG,
        generic=_plan("recent_messages_plan_only.json"),
    )
    assert {r.id: r.status for r in run_checks(good)}["generic_plan"] == "pass"
    bad = CheckContext(
        _plan("recent_messages_index_scan.json"),
        expect,
        BIG,
        generic=_plan("recent_messages_seq_scan_sort.json"),
    )
    result = {r.id: r for r in run_checks(bad)}["generic_plan"]
    assert result.status == "fail"
    assert "fails no_seq_scan" in result.message or "fails uses_index" in result.message
    missing = CheckContext(
        _plan("recent_messages_index_scan.json"),
        expect,
        BIG,
        generic_error="the query has no parameters",
    )
    assert {r.id: r.status for r in run_checks(missing)}["generic_plan"] == "skip"


def test_distinct_over_presorted_order_by_passes_no_sort() -> None:
    """SELECT DISTINCT ... ORDER BY created DESC, id LIMIT 101 over (customerId, created DESC,
    id): the Incremental Sort only orders ties of the ORDER BY keys (recorded on PG 18)."""
    expect = Expectations(no_sort=True)
    after = CheckContext(_plan("distinct_incremental_sort.json"), expect, order_by_count=2)
    result = {r.id: r for r in run_checks(after)}["no_sort"]
    assert result.status == "pass"
    assert "the index gives the ORDER BY (created, id)" in result.message
    # An ORDER BY longer than the presorted keys still needs the sort to read ahead.
    longer = CheckContext(_plan("distinct_incremental_sort.json"), expect, order_by_count=3)
    assert {r.id: r for r in run_checks(longer)}["no_sort"].status == "fail"
    before = CheckContext(_plan("distinct_seq_scan_sort.json"), expect, order_by_count=2)
    result = {r.id: r for r in run_checks(before)}["no_sort"]
    assert result.status == "fail"
    assert "the plan sorts by created DESC, id, status, total (Sort)" in result.message


def _seq_scan(relation: str, rows: float, removed: float | None = None) -> Plan:
    node: dict[str, object] = {
        "Node Type": "Seq Scan",
        "Relation Name": relation,
        "Plan Rows": rows,
        "Actual Rows": rows,
        "Actual Loops": 1,
    }
    if removed is not None:
        node["Rows Removed by Filter"] = removed
    return parse_plan({"Plan": node})


def test_a_sequence_is_not_a_table_to_index() -> None:
    """``SELECT last_value FROM some_seq`` plans as a Seq Scan on the sequence."""
    plan = _seq_scan("orders_id_seq", 1)
    ctx = CheckContext(
        plan, Expectations(no_seq_scan=True), {}, not_tables=frozenset({"orders_id_seq"})
    )
    assert {r.id: r.status for r in run_checks(ctx)}["no_seq_scan"] == "pass"


def test_a_never_analyzed_table_is_sized_by_the_plan_and_named_as_such() -> None:
    from dbtune.catalog import Table
    from dbtune.explain.runner import table_facts

    plan = _seq_scan("events", 12, removed=799_988)
    relations = {"events": Table(1, "public", "events", 0, 0, -1.0, 0.0)}
    rows, _, unanalyzed, _ = table_facts(relations, [plan])
    assert rows == {"events": 800_000.0}
    assert unanalyzed == {"events"}
    ctx = CheckContext(plan, Expectations(), rows, unanalyzed=unanalyzed)
    result = {r.id: r for r in run_checks(ctx)}["no_seq_scan"]
    assert result.status == "fail"
    assert "about 800,000 rows by the plan; it has never been analyzed: ANALYZE events" in (
        result.message
    )
    assert "-1 rows" not in result.message


def test_a_scanned_partition_is_named_with_its_parent() -> None:
    plan = _seq_scan("events_2026_11", 50_000)
    ctx = CheckContext(
        plan,
        Expectations(),
        {"events_2026_11": 50_000.0},
        parents={"events_2026_11": "events"},
    )
    message = {r.id: r for r in run_checks(ctx)}["no_seq_scan"].message
    assert "events_2026_11 (a partition of events)" in message
