"""The plan checks, on recorded plans."""

from __future__ import annotations

from pathlib import Path

from dbtune.checks import registry, run_checks
from dbtune.explain.plan import parse_plan
from dbtune.workload import Expectations

DATA = Path(__file__).parent / "data"
COVERING = "ix_conversation_history_user_id_created_at"
EXPECT = Expectations(index=COVERING, no_sort=True)


def _plan(name: str):  # type: ignore[no-untyped-def]
    return parse_plan((DATA / name).read_text())


def test_registry_is_built_from_the_modules() -> None:
    assert set(registry()) == {"uses_index", "no_sort"}


def test_good_plan_passes_both() -> None:
    results = run_checks(_plan("recent_messages_index_scan.json"), EXPECT)
    assert [(r.id, r.status) for r in results] == [("no_sort", "pass"), ("uses_index", "pass")]


def test_seq_scan_fails_both_and_says_what_the_plan_did() -> None:
    results = {r.id: r for r in run_checks(_plan("recent_messages_seq_scan_sort.json"), EXPECT)}
    assert results["uses_index"].status == "fail"
    assert f"expected index {COVERING}" in results["uses_index"].message
    assert "Seq Scan on conversation_history" in results["uses_index"].message
    assert results["no_sort"].status == "fail"
    assert "created_at DESC" in results["no_sort"].message


def test_another_index_does_not_satisfy_the_expectation() -> None:
    results = run_checks(_plan("recent_messages_index_scan.json"), Expectations(index="ix_other"))
    assert [(r.id, r.status) for r in results] == [("uses_index", "fail")]
    assert COVERING in results[0].message


def test_checks_not_asked_for_do_not_run() -> None:
    assert run_checks(_plan("recent_messages_seq_scan_sort.json"), Expectations()) == []


def test_every_check_module_documents_problem_evidence_and_fix() -> None:
    import importlib

    for check_id in registry():
        doc = importlib.import_module(f"dbtune.checks.{check_id}").__doc__ or ""
        assert doc.startswith(f"{check_id}:")
        for word in ("Problem", "Evidence", "Fix"):
            assert word in doc, (check_id, word)
