"""pytest --dbtune-plans on a small application's test suite (the shop), in a subprocess.

The inner suite sends statements through psycopg 3, SQLAlchemy, psycopg2 and asyncpg: the ones
an index serves, one no index can serve (flagged), one on an allow-listed table, one with the
allow marker, and a write. The plugin must flag exactly the bad one, plan writes without
running them, and leave the database as it found it.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

import psycopg
import pytest

INNER = """
import asyncio, os
import asyncpg, psycopg, psycopg2, sqlalchemy as sa

URL = os.environ["SHOP_URL"]


def test_psycopg3():
    with psycopg.connect(URL) as conn:
        conn.execute('SELECT id FROM "Shop"."Customer" WHERE email = %s', ["user7@example.com"])
        conn.execute('SELECT id FROM "Shop"."Orders" WHERE note = %s', ["note 42"])  # bad
        conn.execute('SELECT id FROM "Shop"."Orders" WHERE note = %s', ["note 43"])  # again
        # bad too: with seq scans off the planner walks the whole primary key for the DISTINCT
        conn.execute(
            'SELECT DISTINCT o.id FROM "Shop"."Orders" AS o WHERE o."customerId" = %s '
            'ORDER BY o.id LIMIT 101', [1]
        )
        conn.execute(
            'SELECT id FROM "Shop"."Orders" WHERE total = %s /* dbtune: allow-seq-scan */', [7]
        )
        conn.execute('UPDATE "Shop"."Orders" SET total = total + 1 WHERE id = %s::uuid',
                     ["c4ca4238-a0b9-3382-8dcc-509a6f75849b"])
        conn.rollback()


def test_sqlalchemy():
    engine = sa.create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        conn.execute(sa.text('SELECT status FROM "Shop"."Orders" WHERE id = :i'),
                     {"i": "c4ca4238-a0b9-3382-8dcc-509a6f75849b"})
        # Customer is allow-listed in pyproject.toml: its Seq Scan is fine.
        conn.execute(sa.text('SELECT id FROM "Shop"."Customer" WHERE "displayName" = :n'),
                     {"n": "User 7"})
    engine.dispose()


def test_psycopg2():
    conn = psycopg2.connect(URL)
    cur = conn.cursor()
    cur.execute('SELECT email FROM "Shop"."Customer" WHERE id = %s', [7])
    conn.close()


def test_asyncpg():
    async def go():
        conn = await asyncpg.connect(URL)
        await conn.fetchval('SELECT "createdAt" FROM "Shop"."Orders" WHERE id = $1::uuid',
                            "c4ca4238-a0b9-3382-8dcc-509a6f75849b")
        await conn.close()
    asyncio.run(go())


def test_psycopg_async():
    async def go():
        async with await psycopg.AsyncConnection.connect(URL) as conn:
            for key in ("c4ca4238-a0b9-3382-8dcc-509a6f75849b",
                        "c81e728d-9d4c-3f63-af06-7f89cc14862c"):
                await conn.execute('SELECT total FROM "Shop"."Orders" WHERE id = %s::uuid', [key])
    asyncio.run(go())
"""


def _state(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            'SELECT count(*), sum(hashtext(o::text)) FROM "Shop"."Orders" AS o'
        ).fetchone()
        indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'Shop'")
        return (row, indexes.fetchone())


def _suite(pytester: pytest.Pytester, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_URL", url)
    pytester.makepyprojecttoml('[tool.dbtune]\nallow_seq_scan = ["Customer"]\n')
    pytester.makepyfile(test_shop=INNER)


def test_the_plugin_flags_exactly_the_bad_query(
    shop_url: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(pytester, shop_url, monkeypatch)
    before = _state(shop_url)
    report = pytester.path / "plans.json"
    workload = pytester.path / "seen.toml"
    result = pytester.runpytest_subprocess(
        "--dbtune-plans", f"--dbtune-plans-report={report}",
        f"--dbtune-write-workload={workload}", "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=5)  # report mode: findings do not fail the tests
    output = result.stdout.str()
    assert "dbtune plans" in output
    data = json.loads(report.read_text())
    flagged = [s for s in data["statements"] if s["status"] == "fail"]
    assert [s["sql"] for s in flagged] == [
        """SELECT id FROM "Shop"."Orders" WHERE note = 'note 42'""",
        'SELECT DISTINCT o.id FROM "Shop"."Orders" AS o WHERE o."customerId" = 1 '
        "ORDER BY o.id LIMIT 101",
    ]
    walked = {c["id"]: c["message"] for c in flagged[1]["checks"] if c["status"] == "fail"}
    assert "no index serves the query's conditions" in walked["index_cond"], walked
    assert flagged[1]["advice"]["suggestion"]["columns"] == ["customerId", "id"]
    bad = flagged[0]
    assert bad["calls"] == 2  # the same statement with another value is the same one
    assert bad["tables"] == ["Orders"]
    assert bad["test"].endswith("test_psycopg3")
    assert any(c["id"] == "no_seq_scan" and c["status"] == "fail" for c in bad["checks"])
    assert bad["advice"]["suggestion"]["sql"] == (
        'CREATE INDEX CONCURRENTLY "ix_Orders_note" ON "Shop"."Orders" (note) INCLUDE (id);'
    )
    drivers = {s["driver"] for s in data["statements"]}
    assert {"psycopg", "psycopg2", "asyncpg", "psycopg async"} <= drivers
    (on_async,) = [s for s in data["statements"] if s["driver"] == "psycopg async"]
    assert on_async["calls"] == 2  # the repeat is counted, not planned again

    def status(fragment: str) -> str:
        (found,) = [s["status"] for s in data["statements"] if fragment in s["sql"]]
        return str(found)

    assert status("WHERE email = 'user7@example.com'") == "pass"
    assert status("total = 7 /* dbtune: allow-seq-scan */") == "pass"  # the marker
    assert status('WHERE "displayName" = ') == "pass"  # the allow-listed table
    assert status("UPDATE") == "pass"  # planned, not run
    assert len(data["statements"]) == 10  # 12 sent, two pairs of them the same statement
    assert all(s["status"] != "error" for s in data["statements"]), data
    assert f"FLAGGED {bad['name']}" in output
    assert _state(shop_url) == before  # nothing written, no index left behind
    seen = tomllib.loads(workload.read_text())
    assert len(seen["query"]) == len(data["statements"])


def test_strict_fails_the_session_and_junit(
    shop_url: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(pytester, shop_url, monkeypatch)
    junit = pytester.path / "plans.xml"
    result = pytester.runpytest_subprocess(
        "--dbtune-plans=strict", f"--dbtune-plans-report={junit}", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=5)
    text = junit.read_text()
    assert "<failure" in text
    assert "no_seq_scan" in text


def test_off_unless_asked(
    shop_url: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(pytester, shop_url, monkeypatch)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    assert "dbtune plans" not in result.stdout.str()
