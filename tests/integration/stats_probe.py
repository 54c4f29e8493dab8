"""Seven literal queries of the reference schema and their plan trees, for comparing a small
database's plans with a big one's (the [prod-stats] proof: tests/integration/test_stats.py,
and ``scripts/stats_plans.py`` for docs/stats.md)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

QUERIES = {
    "a heavy user's listing": "SELECT id, role, created_at FROM conversation_history "
    "WHERE user_id = 1 ORDER BY created_at DESC LIMIT 20",
    "a light user's full history": "SELECT id, content FROM conversation_history "
    "WHERE user_id = 900 ORDER BY created_at",
    "a count": "SELECT count(*) FROM conversation_history WHERE user_id = 1",
    "a time range": "SELECT id FROM conversation_history "
    "WHERE created_at > now() - interval '1 day'",
    "a GROUP BY": "SELECT user_id, count(*) FROM conversation_history GROUP BY user_id",
    "a join with users": "SELECT u.name, m.id FROM users AS u JOIN conversation_history AS m "
    "ON m.user_id = u.id WHERE u.id = 2 ORDER BY m.created_at DESC LIMIT 10",
    "another join with users": "SELECT u.name, count(*) FROM users AS u JOIN food_entries AS f "
    "ON f.user_id = u.id WHERE f.created_at > now() - interval '7 days' GROUP BY u.name",
}

Tree = list[tuple[str, Any, Any]]


def tree(url: str, query: str) -> Tree:
    """The plan's nodes in order: node type, relation, index."""
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(sql.SQL(query))).fetchone()
    assert row is not None
    found: Tree = []

    def walk(node: dict[str, Any]) -> None:
        found.append((node["Node Type"], node.get("Relation Name"), node.get("Index Name")))
        for child in node.get("Plans", ()):
            walk(child)

    walk(row[0][0]["Plan"])
    return found


def trees(url: str) -> dict[str, Tree]:
    return {name: tree(url, query) for name, query in QUERIES.items()}


def estimate(url: str) -> float:
    """Rows the planner expects from a whole-table read of conversation_history."""
    with psycopg.connect(url) as conn:
        row = conn.execute("EXPLAIN (FORMAT JSON) SELECT * FROM conversation_history").fetchone()
    assert row is not None
    return float(row[0][0]["Plan"]["Plan Rows"])
