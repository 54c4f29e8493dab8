"""Snapshots of what users read: the JSON and Markdown reports, the JUnit XML.

A change to a report's shape is a reviewed diff of these files. To accept one:
``DBTUNE_UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/test_report_snapshots.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dbtune.checks import CheckContext, run_checks
from dbtune.explain.report import as_results, render_json
from dbtune.explain.runner import CAN_USE, WILL_USE, ExplainReport, QueryResult
from dbtune.plan import parse_plan
from dbtune.results import render_junit, render_markdown
from dbtune.workload import Expectations, HotQuery

DATA = Path(__file__).parent / "data"
SNAPSHOTS = Path(__file__).parent / "snapshots"
COVERING = "ix_conversation_history_user_id_created_at"


def _report(mode: str) -> ExplainReport:
    expect = Expectations(index=COVERING, no_sort=True, max_buffers=50)
    query = HotQuery("recent_messages", "SELECT ...", expect=expect)
    results = []
    for profile, name in (
        ("heavy", "recent_messages_index_scan.json"),
        ("light", "recent_messages_seq_scan_sort.json"),
    ):
        plan = parse_plan((DATA / name).read_text())
        ctx = CheckContext(plan, expect, {"conversation_history": 100_000.0})
        results.append(QueryResult(query, profile, {"user_id": 1}, plan, tuple(run_checks(ctx))))
    return ExplainReport(
        "db:5432/app", "<shipped reference.toml>", True, mode, 180000, tuple(results)
    )


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("report.json", lambda: render_json(_report(WILL_USE)) + "\n"),
        ("report.md", lambda: render_markdown(as_results(_report(WILL_USE)))),
        ("report-can-use.md", lambda: render_markdown(as_results(_report(CAN_USE)))),
        ("report.junit.xml", lambda: render_junit(as_results(_report(WILL_USE)))),
    ],
)
def test_snapshot(name: str, render: object) -> None:
    assert callable(render)
    text = render()
    path = SNAPSHOTS / name
    if os.environ.get("DBTUNE_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert path.exists(), f"no snapshot {path}: run with DBTUNE_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text()
