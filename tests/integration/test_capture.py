"""dbtune workload capture on the shop: a known mix of statements in, a baseline workload out.

The session's server has pg_stat_statements loaded (the embedded one is started with it; CI's
PostgreSQL 15 run passes it to pg_virtualenv). Counts are per database, and every test has a
fresh one, so other tests' statements never show up here.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dbtune.reference import schema as reference_schema
from dbtune.reference.seed import seed
from tests.foreign_app import app as shop
from tests.integration.helpers import run_cli

RECENT = (
    'SELECT DISTINCT o.id, o.status, o."createdAt" FROM "Shop"."Orders" AS o '
    'WHERE o."customerId" = %s AND o.status IN (%s, %s) ORDER BY o."createdAt" DESC, o.id '
    "LIMIT 101"
)
LOGIN = 'SELECT id, "displayName" FROM "Shop"."Customer" WHERE email = %s'
TOUCH = 'UPDATE "Shop"."Orders" SET total = total + 1 WHERE id = %s::uuid'


def _run_the_mix(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
        for i in range(30):
            conn.execute(RECENT, [1 + i % 5, "open", "paid"])
        for i in range(20):
            conn.execute(LOGIN, [f"user{i}@example.com"])
        for _ in range(12):
            conn.execute(TOUCH, ["c4ca4238-a0b9-3382-8dcc-509a6f75849b"])
        for _ in range(50):  # catalog, utility, Alembic's bookkeeping, dbtune's own
            conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s", ["Orders"])
            conn.execute("SET work_mem = '8MB'")
            conn.execute("SELECT version_num FROM alembic_version")
        for i in range(15):
            conn.execute(
                'INSERT /* dbtune */ INTO "Shop"."Customer" (id, email) VALUES (%s, %s)',
                [100_000 + i, f"seed{i}@example.com"],
            )


def _capture(url: str, out: Path, *extra: str) -> dict[str, dict[str, Any]]:
    done = run_cli("workload", "capture", "--dsn", url, "--out", str(out), *extra)
    assert done.code == 0, done.stderr
    data = tomllib.loads(out.read_text())
    return {q["name"]: q for q in data["query"]}


def _by_prefix(queries: dict[str, dict[str, Any]], prefix: str) -> dict[str, Any]:
    """The generic-plan query whose name starts with ``prefix`` (not its ``_custom`` twin)."""
    (found,) = [q for name, q in queries.items()
                if name.startswith(prefix) and not name.endswith("_custom")]  # fmt: skip
    return found


def test_capture_writes_the_top_statements_with_their_baselines(
    shop_url: str, tmp_path: Path
) -> None:
    _run_the_mix(shop_url)
    out = tmp_path / "captured.toml"
    queries = _capture(shop_url, out, "--min-calls", "10")
    names = sorted(queries)
    generic = [n for n in names if not n.endswith("_custom")]
    # no catalog query, no SET, no alembic_version, no /* dbtune */ insert
    assert len(generic) == 3, names
    recent = _by_prefix(queries, "orders_select_")
    login = next(q for n, q in queries.items() if n.startswith("customer_select_")
                 and not n.endswith("_custom"))  # fmt: skip
    touch = _by_prefix(queries, "orders_update_")
    assert "$1" in recent["sql"]  # checked as its generic plan
    assert recent["captured"]["calls"] == 30
    assert "expect" not in recent  # a Seq Scan and a Sort today: nothing to keep
    assert recent["captured"]["baseline"] == []
    assert login["expect"] == {"no_seq_scan": True, "no_sort": True}
    assert login["captured"]["baseline"] == ["no_seq_scan", "no_sort"]
    assert touch["expect"]["no_seq_scan"] is True
    # every read whose parameters can be picked has its custom-plan twin, LIMIT included
    assert f"{recent['name']}_custom" in queries
    custom = queries[f"{login['name']}_custom"]
    assert custom["sql"].endswith("WHERE email = %(email_1)s")
    assert custom["params"]["email_1"]["sql"].startswith(
        'SELECT /* dbtune */ email FROM "Shop"."Customer" WHERE email IS NOT NULL GROUP BY 1'
    )

    # The baseline passes as captured, except the query that reads the whole table today.
    done = run_cli("explain", "--dsn", shop_url, "--workload", str(out), "--format", "json")
    assert done.code == 1
    assert f'"name": "{recent["name"]}"' in done.stdout
    # A regression: the login's index is dropped, and the captured shape breaks.
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute('DROP INDEX "Shop"."ix_Customer_email"')
    done = run_cli("explain", "--dsn", shop_url, "--workload", str(out), "--format", "json")
    assert done.code == 1
    failed = {q["name"]: q for q in json.loads(done.stdout)["queries"] if q["status"] == "fail"}
    seq = next(c for c in failed[login["name"]]["checks"] if c["id"] == "no_seq_scan")
    assert 'the plan scans all of "Customer"' in seq["message"] or "Customer" in seq["message"]


def test_update_refreshes_the_baseline_and_keeps_hand_written_keys(
    shop_url: str, tmp_path: Path
) -> None:
    _run_the_mix(shop_url)
    out = tmp_path / "captured.toml"
    queries = _capture(shop_url, out, "--min-calls", "10", "--no-pickers")
    assert not [n for n in queries if n.endswith("_custom")]
    login = next(n for n in queries if n.startswith("customer_select_"))
    text = out.read_text()
    # A reviewer adds a budget by hand, under the login's expectations.
    marker = f'name = "{login}"'
    head, tail = text.split(marker, 1)
    tail = tail.replace("[query.expect]\n", "[query.expect]\nmax_buffers = 50\n", 1)
    out.write_text(head + marker + tail)
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute(
            'CREATE INDEX "ix_Customer_email_name" ON "Shop"."Customer" (email) '
            'INCLUDE (id, "displayName")'
        )
        conn.execute('DROP INDEX "Shop"."ix_Customer_email"')
        conn.execute('VACUUM ANALYZE "Shop"."Customer"')
    updated = _capture(shop_url, out, "--min-calls", "10", "--update", "--no-pickers")
    expect = updated[login]["expect"]
    assert expect["max_buffers"] == 50  # hand-written: kept
    assert expect.get("index_only") is True  # baseline: refreshed (now an index-only scan)
    assert expect["no_seq_scan"] is True
    assert set(updated) == set(queries)


def test_dbtune_seed_leaves_nothing_to_capture(empty_url: str) -> None:
    """The seed's own statements (its emptiness checks included) carry the marker."""
    reference_schema.upgrade(empty_url)
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
    seed(empty_url, messages=2_000, users=20)
    done = run_cli("workload", "capture", "--dsn", empty_url)
    assert done.code == 2, done.stdout
    assert "nothing to capture" in done.stderr


def test_without_pg_stat_statements_it_says_how_to_enable_it(empty_url: str) -> None:
    done = run_cli("workload", "capture", "--dsn", empty_url)
    assert done.code == 2
    assert "CREATE EXTENSION pg_stat_statements" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("extra", [["--top", "0"], ["--min-calls", "x"]])
def test_bad_arguments_are_usage_errors(extra: list[str], tmp_path: Path) -> None:
    done = run_cli("workload", "capture", "--dsn", "postgresql://u@localhost/db", *extra)
    assert done.code == 2
    assert "Traceback" not in done.stderr


def test_the_gate_passes_after_its_own_fix(shop_url: str, tmp_path: Path) -> None:
    """capture -> explain fails -> the advisor's revision builds the better index -> explain
    on the captured workload passes; `capture --update` takes in none of dbtune's statements
    (its parameter pickers), and each captured read has its custom-plan twin."""
    with psycopg.connect(shop_url, autocommit=True) as conn:  # the index the plan reads today
        conn.execute('CREATE INDEX "ix_Orders_customerId" ON "Shop"."Orders" ("customerId")')
        conn.execute('ANALYZE "Shop"."Orders"')
    _run_the_mix(shop_url)
    captured = tmp_path / "captured.toml"
    queries = _capture(shop_url, captured, "--min-calls", "10")
    recent = next(q for n, q in queries.items() if n.startswith("orders_select_")
                  and not n.endswith("_custom"))  # fmt: skip
    assert "index" not in recent.get("expect", {})  # the shape, not today's index's name
    assert recent["expect"]["no_seq_scan"] is True
    assert f"{recent['name']}_custom" in queries  # psycopg2 would send it with literals
    before = run_cli("explain", "--dsn", shop_url, "--workload", str(captured), "--format", "json")
    assert before.code == 0, before.stdout
    assert "psycopg2, and SQLAlchemy over it, send literals" in before.stdout

    # The shop's own workload asks for the composite index; its what-if verifies it.
    report = run_cli("explain", "--dsn", shop_url, "--workload", str(shop.WORKLOAD),
                     "--what-if=build", "--format", "json")  # fmt: skip
    assert report.code == 1
    (tmp_path / "report.json").write_text(report.stdout)
    ops = tmp_path / "ops"
    assert run_cli("init-ops", str(ops)).code == 0
    wrote = run_cli("revision", "--from", str(tmp_path / "report.json"), "--dir",
                    str(ops / "versions"))  # fmt: skip
    assert wrote.code == 0, wrote.stderr
    upgraded = run_cli("-c", str(ops / "alembic.ini"), "upgrade", "head", module="alembic",
                       env={"DATABASE_URL": shop_url})  # fmt: skip
    assert upgraded.code == 0, upgraded.stderr

    after = run_cli("explain", "--dsn", shop_url, "--workload", str(captured), "--format", "json")
    assert after.code == 0, after.stdout  # the captured shape still holds beside the new index
    # The captured statement is checked as its generic plan, for which either index serves
    # (which one turns on ANALYZE's random sample of the 100k orders); the shop's own
    # workload, with the busiest customer, is the one that needs the composite index.
    fixed = run_cli("explain", "--dsn", shop_url, "--workload", str(shop.WORKLOAD))
    assert fixed.code == 0, fixed.stdout
    assert "ix_Orders_customerId_createdAt" in fixed.stdout

    updated = _capture(shop_url, captured, "--min-calls", "1", "--update")
    for query in updated.values():
        assert "GROUP BY 1 ORDER BY count(*) DESC" not in query["sql"], query["sql"]
    again = run_cli("explain", "--dsn", shop_url, "--workload", str(captured))
    assert again.code in (0, 1)
    assert "Traceback" not in again.stderr
