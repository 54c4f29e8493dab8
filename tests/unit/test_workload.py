"""Workload files: the shipped one, and strict errors that name the file, line and key."""

from __future__ import annotations

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
    query = parse_workload('[[query]]\nname = "q"\nsql = "SELECT 1"\n').queries[0]
    assert list(query.profile_params()) == [DEFAULT_PROFILE]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[query]\n", r"^w\.toml: not valid TOML"),
        ("", r"^w\.toml: query: a workload needs at least one"),
        ("queries = 1", r"^w\.toml:1: queries: unknown top-level key"),
        ('[[query]]\nname = "q"\n', r"^w\.toml:1: query\[0\] \(q\)\.sql: is required"),
        ('[[query]]\nname = "q"\nsql = "x"\ncolour = 1\n', r"^w\.toml:4: .*\.colour: unknown"),
        (
            '[[query]]\nname = "q"\nsql = "x"\n\nexpect.indx = "i"\n',
            r"^w\.toml:5: query\[0\] \(q\)\.expect\.indx: unknown key; known: ",
        ),
        ('[[query]]\nname = "q"\nsql = "x"\nexpect.no_sort = "yes"\n', r":4: .* must be bool"),
        ('[[query]]\nname = "q"\nsql = "x"\nexpect.max_buffers = true\n', r"must be int"),
        ('[[query]]\nname = "q"\nsql = "x"\nexpect.max_buffers = -1\n', "must not be negative"),
        ('[[query]]\nname = "q"\nsql = "x"\nparams.a = { query = "x" }\n', ":4: .*picker"),
        (
            '[[query]]\nname = "q"\nsql = "x"\n[[query]]\nname = "q"\nsql = "y"\n',
            r"^w\.toml:5: name: duplicate",
        ),
    ],
)
def test_bad_workloads_name_the_line_and_key(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_workload(text, "w.toml")


def test_missing_file() -> None:
    with pytest.raises(UsageError, match="cannot read workload file"):
        load_workload("/nonexistent/workload.toml")
