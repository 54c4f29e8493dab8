"""Workload files: the shipped one, and strict errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtune.errors import UsageError
from dbtune.workload import DEFAULT_PROFILE, Expectations, load_workload, parse_workload

GOOD = """
[[query]]
name = "q"
sql = "SELECT 1 WHERE %(a)s = %(b)s"
params.a = 1
params.b = { sql = "SELECT 1" }
profiles.big.a = 2
profiles.small.a = { sql = "SELECT 3" }
expect.index = "ix"
expect.index_only = true
expect.max_heap_fetches = 0
expect.no_sort = true
expect.no_seq_scan = false
expect.max_filter_ratio = 0.5
expect.max_buffers = 50
expect.generic_plan = true
"""

SHIPPED = {
    "recent_messages",
    "message_listing",
    "messages_since",
    "todays_food_totals",
    "recent_food",
    "due_reminders",
    "active_reminders",
    "category_entries",
    "xp_history",
    "leaderboard",
}


def test_shipped_workload_covers_every_hot_query() -> None:
    workload = load_workload()
    assert {q.name for q in workload.queries} == SHIPPED
    recent = next(q for q in workload.queries if q.name == "recent_messages")
    assert recent.expect.index == "ix_conversation_history_user_id_created_at"
    assert set(recent.profile_params()) == {"heavy", "median", "light"}
    food = next(q for q in workload.queries if q.name == "todays_food_totals")
    assert "::date" not in food.sql
    assert "created_at >= %(day)s AND created_at < %(next_day)s" in food.sql
    assert food.expect.index_only


def test_every_key() -> None:
    query = parse_workload(GOOD).queries[0]
    assert query.expect == Expectations("ix", True, 0, True, False, 0.5, 50, True)
    profiles = query.profile_params()
    assert profiles["big"]["a"].literal == 2
    assert profiles["big"]["b"].sql == "SELECT 1"  # inherited from params
    assert profiles["small"]["a"].sql == "SELECT 3"


def test_no_profiles_means_one_default_profile() -> None:
    query = parse_workload(Q).queries[0]
    assert list(query.profile_params()) == [DEFAULT_PROFILE]


Q = '[[query]]\nname = "q"\nsql = "TABLE t"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[query]\n", r"^w\.toml: not valid TOML"),
        ("", r"^w\.toml: query: a workload needs at least one"),
        ("queries = 1", r"^w\.toml:1: queries: unknown top-level key"),
        ('[[query]]\nname = "q"\n', r"^w\.toml:1: query\[0\] \(q\)\.sql: is required"),
        (
            Q + "colour = 1\n",
            r"^w\.toml:4: .*\.colour: unknown",
        ),
        (
            Q + '\nexpect.indx = "i"\n',
            r"^w\.toml:5: query\[0\] \(q\)\.expect\.indx: unknown key; known: ",
        ),
        (
            Q + 'expect.no_sort = "yes"\n',
            r":4: .* must be bool",
        ),
        (Q + "expect.max_buffers = true\n", r"must be int"),
        (
            Q + "expect.max_buffers = -1\n",
            "must not be negative",
        ),
        (Q + 'params.a = { query = "x" }\n', ":4: .*picker"),
        (
            Q + '[[query]]\nname = "q"\nsql = "TABLE u"\n',
            r"^w\.toml:5: name: duplicate",
        ),
        (
            '[[query]]\nname = "q"\nsql = "SELECT 1; ROLLBACK; DELETE FROM t"\n',
            r"^w\.toml:3: query\[0\] \(q\)\.sql: 3 statements where exactly one",
        ),
        ('[[query]]\nname = "q"\nsql = "SELEC 1"\n', r"^w\.toml:3: .*\.sql: not valid SQL"),
        ('[[query]]\nname = "q"\nsql = "VACUUM t"\n', r"^w\.toml:3: .*VacuumStmt is not a query"),
        (
            Q + 'params.a = { sql = "SELECT 1; COMMIT" }\n',
            r"^w\.toml:4: .*params\.a: picker sql: 2 statements",
        ),
        (
            Q + 'params.a = { sql = "WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d" }\n',
            r"^w\.toml:4: .*a picker must be a plain SELECT; this is a write",
        ),
        (
            Q + 'params.a = { sql = "TABLE t FOR UPDATE" }\n',
            r"this is a locking read",
        ),
        (
            Q + "expect.max_filter_ratio = 5\n",
            r":4: .*max_filter_ratio: is a fraction",
        ),
    ],
)
def test_bad_workloads_name_the_line_and_key(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_workload(text, "w.toml")


def test_a_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[[query]]\nname = "caf\xe9"\nsql = "TABLE t"\n'.encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        load_workload(path)


def test_missing_file() -> None:
    with pytest.raises(UsageError, match="cannot read workload file"):
        load_workload("/nonexistent/workload.toml")
