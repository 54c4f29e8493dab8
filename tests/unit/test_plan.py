"""EXPLAIN JSON -> plan tree, on plans recorded from PostgreSQL 18."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbtune.plan import PlanParseError, parse_plan

DATA = Path(__file__).parent / "data"
COVERING = "ix_conversation_history_user_id_created_at"


def _load(name: str) -> str:
    return (DATA / name).read_text()


def test_index_scan_plan() -> None:
    plan = parse_plan(_load("recent_messages_index_scan.json"))
    assert plan.node_types() == ["Limit", "Index Scan"]
    assert plan.index_names() == [COVERING]
    assert plan.analyzed
    assert plan.execution_time_ms is not None
    scan = plan.root.children[0]
    assert scan.relation_name == "conversation_history"
    assert scan.index_cond == "(user_id = 1)"
    assert scan.actual_rows == 20
    assert plan.root.buffers is not None
    assert plan.root.buffers > 0
    assert plan.summary() == f"Limit > Index Scan using {COVERING} on conversation_history"


def test_index_only_scan_reports_heap_fetches() -> None:
    plan = parse_plan(_load("message_listing_index_only.json"))
    assert "Index Only Scan" in plan.node_types()
    assert plan.heap_fetches == 0


def test_seq_scan_with_sort() -> None:
    plan = parse_plan(_load("recent_messages_seq_scan_sort.json"))
    assert plan.node_types() == ["Limit", "Sort", "Seq Scan"]
    assert plan.index_names() == []
    sort = plan.root.children[0]
    assert sort.sort_key == ("created_at DESC",)
    assert plan.rows_removed_by_filter is not None
    assert plan.rows_removed_by_filter > 1000


def test_plan_without_analyze_has_no_actuals() -> None:
    plan = parse_plan(_load("recent_messages_plan_only.json"))
    assert not plan.analyzed
    assert plan.root.buffers is None
    assert plan.execution_time_ms is None
    assert plan.index_names() == [COVERING]


def test_decoded_list_and_object_are_accepted() -> None:
    decoded = json.loads(_load("recent_messages_index_scan.json"))
    assert parse_plan(decoded) == parse_plan(decoded[0])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "expected one plan"),
        ('{"Planning Time": 1}', "'Plan' key"),
        ('{"Plan": {"Relation Name": "t"}}', "Node Type"),
        ('{"Plan": {"Node Type": "Limit", "Plans": {}}}', "'Plans' is not a list"),
        (
            '{"Plan": {"Node Type": "Limit", "Plans": [{"Node Type": "X", "Actual Rows": "a"}]}}',
            r"Plan\.Plans\[0\]",
        ),
    ],
)
def test_malformed_plans_are_rejected(document: str, message: str) -> None:
    with pytest.raises(PlanParseError, match=message):
        parse_plan(document)
