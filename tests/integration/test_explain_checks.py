"""Every plan check on a real server: a case that passes and one that fails (SPEC §6)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from dbtune.testing import assert_plan
from tests.integration.helpers import run_cli

COVERING = "ix_conversation_history_user_id_created_at"
FOOD = "ix_food_entries_user_id_created_at"
RECENT = (
    "SELECT id, role, content, created_at FROM conversation_history "
    "WHERE user_id = %(u)s ORDER BY created_at DESC LIMIT 20"
)
LISTING = (
    "SELECT role, message_type, created_at FROM conversation_history "
    "WHERE user_id = %(u)s ORDER BY created_at DESC LIMIT 50"
)


@pytest.fixture
def conn(seeded_url: str) -> Any:
    with psycopg.connect(seeded_url, autocommit=True) as connection:
        yield connection


def _heavy(conn: Any, table: str = "conversation_history") -> int:
    row = conn.execute(
        f"SELECT user_id FROM {table} GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchone()
    return int(row[0])


def test_uses_index(conn: Any) -> None:
    assert_plan(conn, RECENT, {"u": _heavy(conn)}, index=COVERING)
    conn.execute(f"DROP INDEX {COVERING}")
    with pytest.raises(AssertionError, match=f"uses_index: expected index {COVERING}"):
        assert_plan(conn, RECENT, {"u": _heavy(conn)}, index=COVERING)


def test_index_only(conn: Any) -> None:
    assert_plan(conn, LISTING, {"u": _heavy(conn)}, index=COVERING, index_only=True)
    with_content = LISTING.replace("SELECT role,", "SELECT content, role,")
    with pytest.raises(AssertionError, match="index_only: expected an Index Only Scan"):
        assert_plan(conn, with_content, {"u": _heavy(conn)}, index=COVERING, index_only=True)


def test_heap_fetches(conn: Any) -> None:
    user = _heavy(conn)
    assert_plan(conn, LISTING, {"u": user}, index_only=True, max_heap_fetches=0)
    # Fresh row versions: their pages are no longer all-visible until the next VACUUM.
    conn.execute(
        "UPDATE conversation_history SET message_type = message_type WHERE user_id = %s", [user]
    )
    with pytest.raises(AssertionError, match="heap_fetches: expected at most 0 heap fetches"):
        assert_plan(conn, LISTING, {"u": user}, index_only=True, max_heap_fetches=0)
    conn.execute("VACUUM conversation_history")
    assert_plan(conn, LISTING, {"u": user}, index_only=True, max_heap_fetches=0)


def test_no_sort(conn: Any) -> None:
    assert_plan(conn, RECENT, {"u": _heavy(conn)}, no_sort=True)
    unordered = RECENT.replace("ORDER BY created_at DESC", "ORDER BY role, created_at DESC")
    with pytest.raises(AssertionError, match="no_sort: expected no Sort; the plan sorts by"):
        assert_plan(conn, unordered, {"u": _heavy(conn)}, no_sort=True)


def test_no_seq_scan_and_the_sargable_hint(conn: Any) -> None:
    assert_plan(conn, RECENT, {"u": _heavy(conn)}, no_seq_scan=True)
    by_day = (
        "SELECT count(*) FROM conversation_history "
        "WHERE user_id = %(u)s AND created_at::date = current_date"
    )
    assert_plan(conn, by_day, {"u": _heavy(conn)}, index=COVERING)  # the user_id part is used
    # content is in no index: with count(*) alone, a freshly built covering index is cheaper to
    # walk whole (an Index Only Scan with a Filter) than the table, and no_seq_scan judges Seq
    # Scans only
    no_user = (
        "SELECT count(*), max(length(content)) FROM conversation_history "
        "WHERE created_at::date = current_date"
    )
    with pytest.raises(AssertionError) as info:
        assert_plan(conn, no_user, no_seq_scan=True)
    assert "no_seq_scan: expected no Seq Scan; the plan scans all of conversation_history" in str(
        info.value
    )
    assert "`CAST(created_at AS date) = CURRENT_DATE` is not sargable" in str(info.value)
    assert "created_at >= day AND created_at < day + 1" in str(info.value)


def test_filter_ratio(conn: Any) -> None:
    since = (
        "SELECT id FROM conversation_history WHERE user_id = %(u)s "
        "AND created_at >= now() - interval '7 days'"
    )
    assert_plan(conn, since, {"u": _heavy(conn)}, max_filter_ratio=0.1)
    by_role = "SELECT id FROM conversation_history WHERE user_id = %(u)s AND content LIKE 'Sure%%'"
    with pytest.raises(AssertionError, match="filter_ratio: expected at most 10%"):
        assert_plan(conn, by_role, {"u": _heavy(conn)}, max_filter_ratio=0.1)


def test_buffers(conn: Any) -> None:
    assert_plan(conn, RECENT, {"u": _heavy(conn)}, max_buffers=200)
    with pytest.raises(AssertionError, match="buffers: expected at most 1 shared buffers"):
        assert_plan(conn, RECENT, {"u": _heavy(conn)}, max_buffers=1)


def test_generic_plan_differs_from_the_custom_plan_on_skewed_data(conn: Any) -> None:
    """The heaviest food logger's custom plan walks the index in order; the generic plan,
    built for the average user (about ten entries), sorts instead."""
    recent_food = (
        "SELECT id, description, created_at FROM food_entries WHERE user_id = %(u)s "
        "ORDER BY created_at DESC LIMIT 20"
    )
    heavy = {"u": _heavy(conn, "food_entries")}
    assert_plan(conn, recent_food, heavy, index=FOOD, no_sort=True)
    with pytest.raises(AssertionError, match=r"generic_plan: the generic plan .* fails no_sort"):
        assert_plan(conn, recent_food, heavy, index=FOOD, no_sort=True, generic_plan=True)
    assert_plan(conn, RECENT, {"u": _heavy(conn)}, index=COVERING, no_sort=True, generic_plan=True)


def test_can_use_passes_on_a_200_row_database(empty_url: str) -> None:
    from dbtune.reference import schema as reference_schema
    from dbtune.reference.seed import seed

    reference_schema.upgrade(empty_url)
    seed(empty_url, messages=200, users=20)
    run = run_cli("explain", "--dsn", empty_url, "--can-use")
    assert run.code == 0, run.stdout + run.stderr
    assert "can-use mode" in run.stdout
    assert "enable_seqscan=off" in run.stdout


@pytest.mark.parametrize("fmt", ["json", "markdown", "junit"])
def test_failures_are_named_in_every_format(seeded_url: str, fmt: str) -> None:
    with psycopg.connect(seeded_url, autocommit=True) as c:
        c.execute(f"DROP INDEX {COVERING}")
    run = run_cli("explain", "--dsn", seeded_url, "--format", fmt)
    assert run.code == 1, run.stderr
    assert f"expected index {COVERING}" in run.stdout
    assert "recent_messages" in run.stdout
