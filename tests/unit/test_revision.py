"""Which suggestions of an explain report become revisions, and what the files say."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from dbtune.advisor.ops_chain import init_ops
from dbtune.advisor.revision import accepted, load_report, revision_text, write_revisions
from dbtune.errors import UsageError


def _query(name: str, columns: list[str], passes: bool | None, **extra: Any) -> dict[str, Any]:
    suggestion = {"schema": "Shop", "table": "Orders", "name": f"ix_{name}", "columns": columns,
                  "include": [], "where": None, "reason": "why", **extra}  # fmt: skip
    what_if = None
    if passes is not None:
        measure = {"plan": "Seq Scan on Orders", "cost": 10.0, "time_ms": 1.5, "buffers": 9,
                   "failing": ["no_seq_scan"]}  # fmt: skip
        after = {**measure, "failing": [] if passes else ["no_sort"]}
        what_if = {"engine": "build", "passes": passes, "before": measure, "after": after}
    return {"name": name, "profile": "default", "sql": 'SELECT 1 FROM "Shop"."Orders"',
            "advice": {"suggestion": suggestion, "what_if": what_if}}  # fmt: skip


def _names(report: dict[str, Any], **options: bool) -> list[str]:
    return [a.suggestion.name for a in accepted(report, **options)]


def test_only_verified_suggestions_unless_asked() -> None:
    report = {"queries": [_query("ok", ["a"], True), _query("bad", ["b"], False),
                          _query("unknown", ["c"], None)]}  # fmt: skip
    assert _names(report) == ["ix_ok"]
    assert _names(report, unverified=True) == ["ix_ok", "ix_unknown"]  # never ix_bad


def test_keys_that_share_a_prefix_become_one_index() -> None:
    report = {"queries": [_query("short", ["a"], True), _query("long", ["a", "b DESC"], True),
                          _query("again", ["a", "b DESC"], True, include=["d"]),
                          _query("covering", ["a"], True, include=["c", "b"])]}  # fmt: skip
    (one,) = accepted(report)
    # The longest key; the union of the INCLUDE lists, less what the key already holds.
    assert one.suggestion.name == "ix_long"
    assert one.suggestion.columns == ("a", "b DESC")
    assert one.suggestion.include == ("d", "c")
    assert [q.query for q in one.served] == [
        "long[default]",
        "again[default]",
        "short[default]",
        "covering[default]",
    ]


def test_other_tables_and_predicates_stay_apart() -> None:
    report = {"queries": [_query("a", ["a"], True), _query("b", ["b"], True),
                          _query("partial", ["a", "c"], True, where="c IS NULL"),
                          _query("other", ["a", "c"], True, table="Customer")]}  # fmt: skip
    assert _names(report) == ["ix_partial", "ix_other", "ix_a", "ix_b"]


def test_a_long_name_is_shortened_with_a_stable_hash() -> None:
    from dbtune.sql.identifiers import fit_name

    long = "ix_" + "conversation_history_" * 3 + "user_id_created_at"
    short = fit_name(long)
    assert len(short.encode()) == 63
    assert short == fit_name(long)  # stable
    assert short != fit_name(long + "_x")  # two long names stay two
    assert short.startswith("ix_conversation_history_conversation_history_")
    assert fit_name("ix_orders_code") == "ix_orders_code"


def test_the_revision_is_python_that_calls_the_online_helpers() -> None:
    item = accepted({"queries": [_query('we"ird', ["a", "b DESC"], True, where="x IS NULL")]})[0]
    text = revision_text(item, "abc123", "prev456", 'dbtune revision --from "r.json"')
    tree = ast.parse(text)  # valid Python, quotes in names escaped
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and
             isinstance(n.func, ast.Name)]  # fmt: skip
    assert calls == ["create_index_online", "drop_index_online"]
    assert 'down_revision: str | Sequence[str] | None = "prev456"' in text
    assert 'where="x IS NULL"' in text
    assert "Revises: prev456" in text


def test_revisions_chain_on_the_head(tmp_path: Path) -> None:
    ops = tmp_path / "ops"
    init_ops(ops)
    report = {"queries": [_query("one", ["a"], True), _query("two", ["b"], True)]}
    first, second = write_revisions(report, ops / "versions", "cmd")
    assert "down_revision: str | Sequence[str] | None = None" in first.read_text()
    revision = first.read_text().split('revision: str = "', 1)[1].split('"', 1)[0]
    assert f'down_revision: str | Sequence[str] | None = "{revision}"' in second.read_text()
    (third,) = write_revisions({"queries": [_query("three", ["c"], True)]}, ops / "versions", "c")
    head = second.read_text().split('revision: str = "', 1)[1].split('"', 1)[0]
    assert f'None = "{head}"' in third.read_text()


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "not.json").write_text("{")
    with pytest.raises(UsageError, match="is not JSON"):
        load_report(tmp_path / "not.json")
    (tmp_path / "other.json").write_text('{"findings": []}')
    with pytest.raises(UsageError, match="not a dbtune explain JSON report"):
        load_report(tmp_path / "other.json")
    with pytest.raises(UsageError, match="cannot read"):
        load_report(tmp_path / "missing.json")
    with pytest.raises(UsageError, match="is not a directory"):
        write_revisions({"queries": []}, tmp_path / "nowhere", "cmd")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not an empty directory"):
        init_ops(tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
