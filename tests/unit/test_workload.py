"""Workload files: the shipped one, and strict errors for bad ones."""

from __future__ import annotations

import pytest

from dbtune.errors import UsageError
from dbtune.workload import load_workload, parse_workload

GOOD = """
[[query]]
name = "q"
sql = "SELECT 1 WHERE %(a)s = %(b)s"
params.a = 1
params.b = { sql = "SELECT 1" }
expect.index = "ix"
expect.no_sort = true
"""


def test_shipped_workload_covers_the_hot_messages_query() -> None:
    workload = load_workload()
    recent = next(q for q in workload.queries if q.name == "recent_messages")
    assert recent.expect.index == "ix_conversation_history_user_id_created_at"
    assert recent.expect.no_sort
    assert "content" in recent.sql
    assert recent.params["user_id"].sql is not None


def test_literal_and_picker_parameters() -> None:
    query = parse_workload(GOOD).queries[0]
    assert query.params["a"].literal == 1
    assert query.params["b"].sql == "SELECT 1"
    assert query.expect.index == "ix"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[query]\n", "not valid TOML"),
        ("", "at least one"),
        ("queries = 1", "unknown top-level key"),
        ('[[query]]\nname = "q"\n', r"query\[0\] \(q\)\.sql: is required"),
        ('[[query]]\nname = "q"\nsql = "x"\ncolour = 1\n', r"\.colour: unknown key"),
        ('[[query]]\nname = "q"\nsql = "x"\nexpect.indx = "i"\n', r"expect\.indx: unknown key"),
        ('[[query]]\nname = "q"\nsql = "x"\nexpect.no_sort = "yes"\n', "true or false"),
        ('[[query]]\nname = "q"\nsql = "x"\nparams.a = { query = "x" }\n', "picker"),
        ('[[query]]\nname = "q"\nsql = "x"\n[[query]]\nname = "q"\nsql = "y"\n', "duplicate"),
    ],
)
def test_bad_workloads_name_the_key(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_workload(text, "w.toml")
    assert str(info.value).startswith("w.toml: ")


def test_missing_file() -> None:
    with pytest.raises(UsageError, match="cannot read workload file"):
        load_workload("/nonexistent/workload.toml")
