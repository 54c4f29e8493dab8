"""Do seven literal queries plan on a small database as on a big one, before and after
``dbtune stats import``?

    python scripts/stats_plans.py [--big 300000] [--small 3000]

Two fresh databases at head on the embedded PostgreSQL 18 (``dbtune_stats_big`` and
``dbtune_stats_small``, recreated), seeded with ``--big`` and ``--small`` messages; the big
one's statistics exported and imported into the small one. Prints, per query, whether the
small database's plan tree (node types, relations, indexes) is the big one's, before and
after, and the small database's row estimate for a whole-table scan against the big one's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from dbtune import embedded, reference_schema  # noqa: E402
from dbtune.seed import seed  # noqa: E402

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


def shape(url: str, query: str) -> list[tuple[str, Any, Any]]:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchone()
    assert row is not None
    found: list[tuple[str, Any, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        found.append((node["Node Type"], node.get("Relation Name"), node.get("Index Name")))
        for child in node.get("Plans", ()):
            walk(child)

    walk(row[0][0]["Plan"])
    return found


def estimate(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("EXPLAIN (FORMAT JSON) SELECT * FROM conversation_history").fetchone()
    assert row is not None
    return f"{row[0][0]['Plan']['Plan Rows']:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=300_000)
    parser.add_argument("--small", type=int, default=3_000)
    args = parser.parse_args()
    server = embedded.start()
    urls = {}
    for name, messages in (("big", args.big), ("small", args.small)):
        url = embedded.ensure_database(server, f"dbtune_stats_{name}", fresh=True)
        reference_schema.upgrade(url, "head")
        seed(url, messages=messages, users=max(50, messages // 100))
        urls[name] = url
    big = {k: shape(urls["big"], q) for k, q in QUERIES.items()}
    before = {k: shape(urls["small"], q) for k, q in QUERIES.items()}
    estimates = [estimate(urls["big"]), estimate(urls["small"])]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stats.json"
        for command in (["export", "--dsn", urls["big"], "--out", str(path)],
                        ["import", "--dsn", urls["small"], str(path)]):  # fmt: skip
            subprocess.run([sys.executable, "-m", "dbtune", "stats", *command], check=True)
    after = {k: shape(urls["small"], q) for k, q in QUERIES.items()}
    estimates.append(estimate(urls["small"]))
    print(f"| query ({args.big:,} vs {args.small:,} messages) | same plan before | after |")
    print("|---|---|---|")
    for key in QUERIES:
        print(f"| {key} | {'yes' if before[key] == big[key] else 'no'} | "
              f"{'yes' if after[key] == big[key] else 'no'} |")  # fmt: skip
    same = [sum(d[k] == big[k] for k in QUERIES) for d in (before, after)]
    print(f"| **same tree** | **{same[0]} of {len(QUERIES)}** | **{same[1]} of {len(QUERIES)}** |")
    print(f"\nrows the planner expects from conversation_history: big {estimates[0]}, small "
          f"before {estimates[1]}, small after the import {estimates[2]}")  # fmt: skip


if __name__ == "__main__":
    main()
