"""Signal first: findings ordered by what is at stake, small objects counted in one line,
filters and the ignore list of ``[tool.dbtune]``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.helpers import run_cli

SMALL_TABLES = 20
BIG_ROWS = 200_000


@pytest.fixture
def fleet_url(empty_url: str) -> str:
    """A parent, twenty empty children and one big one, each with an unindexed foreign key."""
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Parent" (id bigint PRIMARY KEY)')
        conn.execute('INSERT INTO "Parent" SELECT generate_series(1, 1000)')
        for n in range(SMALL_TABLES):
            conn.execute(
                f"CREATE TABLE small_{n} (id bigint PRIMARY KEY, "
                f'parent_id bigint REFERENCES "Parent" (id))'
            )
        conn.execute(
            'CREATE TABLE "BigChild" (id bigint PRIMARY KEY, '
            '"parentId" bigint REFERENCES "Parent" (id), note text)'
        )
        conn.execute(
            "INSERT INTO \"BigChild\" SELECT g, 1 + g % 1000, repeat('x', 40) "
            f"FROM generate_series(1, {BIG_ROWS}) g"
        )
        conn.execute("ANALYZE")
        conn.execute('SELECT count(*) FROM "BigChild" WHERE "parentId" = 3')  # a read, counted
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for _ in range(100):  # the counters reach the shared statistics when a backend flushes
            row = conn.execute(
                "SELECT seq_scan, n_tup_ins FROM pg_stat_user_tables WHERE relname = 'BigChild'"
            ).fetchone()
            if row and row[0] >= 1 and row[1] >= BIG_ROWS:
                break
            time.sleep(0.1)
        # the insert's counters may have reached the statistics after the ANALYZE above, which
        # would make the table look stale: analyze again now that they are in
        conn.execute('ANALYZE "BigChild"')
    return empty_url


def _json(url: str, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    extra = {"cwd": cwd} if cwd else {}
    run = run_cli("doctor", "--dsn", url, "--format", "json", *args, **extra)  # type: ignore[arg-type]
    assert run.code == 1, run.stderr
    return dict(json.loads(run.stdout))


def _check(report: dict[str, Any], check: str) -> dict[str, Any]:
    return dict(next(c for c in report["checks"] if c["id"] == check))


def test_a_big_unindexed_foreign_key_outranks_twenty_empty_tables(fleet_url: str) -> None:
    report = _json(fleet_url)
    first = report["findings"][0]
    assert (first["check"], first["table"], first["columns"]) == (
        "unindexed_foreign_keys", "BigChild", ["parentId"],
    )  # fmt: skip
    assert first["rows"] == pytest.approx(BIG_ROWS, rel=0.05)
    assert first["size_bytes"] > 8 * 2**20
    assert first["writes_per_day"] > 0
    assert "read whole" in first["message"]  # the reads it costs, not only deletes
    assert first["undo"].startswith("DROP INDEX CONCURRENTLY")
    fks = _check(report, "unindexed_foreign_keys")
    assert len(fks["findings"]) == 1
    assert fks["small_not_listed"] == SMALL_TABLES

    table = run_cli("doctor", "--dsn", fleet_url)
    assert f"{SMALL_TABLES} more finding(s) on small objects" in table.stdout
    assert table.stdout.index('"BigChild"') < table.stdout.index("more finding(s)")

    everything = _json(fleet_url, "--all")
    listed = [f for f in everything["findings"] if f["check"] == "unindexed_foreign_keys"]
    assert len(listed) == SMALL_TABLES + 1
    assert listed[0]["table"] == "BigChild"


def test_filters_and_the_ignore_list(fleet_url: str, tmp_path: Path) -> None:
    only = _json(fleet_url, "--all", "--table", "small_1*")
    listed = [f["table"] for f in only["findings"] if f["check"] == "unindexed_foreign_keys"]
    assert sorted(listed) == sorted(["small_1"] + [f"small_1{n}" for n in range(10)])

    (tmp_path / "pyproject.toml").write_text(
        '[tool.dbtune]\nignore = ["check:unindexed_foreign_keys:table:small_*"]\n'
    )
    ignored = _json(fleet_url, "--all", cwd=tmp_path)
    fks = _check(ignored, "unindexed_foreign_keys")
    assert len(fks["findings"]) == 1
    assert '"BigChild"' in fks["findings"][0]["subject"]
    assert fks["ignored"] == SMALL_TABLES

    (tmp_path / "pyproject.toml").write_text('[tool.dbtune]\nignore = ["tabel:x"]\n')
    bad = run_cli("doctor", "--dsn", fleet_url, cwd=tmp_path)
    assert bad.code == 2
    assert "ignore entry 'tabel:x'" in bad.stderr


def test_the_workload_shapes_the_foreign_key_index(fleet_url: str, tmp_path: Path) -> None:
    workload = tmp_path / "workload.toml"
    workload.write_text(
        '[[query]]\nname = "latest_children"\n'
        'sql = \'SELECT id, note FROM "BigChild" WHERE "parentId" = %(p)s '
        "ORDER BY id DESC LIMIT 10'\nparams.p = 3\n"
    )
    report = _json(fleet_url, "--workload", str(workload))
    first = next(f for f in report["findings"] if f["check"] == "unindexed_foreign_keys")
    assert first["table"] == "BigChild"
    assert "the workload's query latest_children filters on it" in first["message"]
    assert first["fix"] == (
        'CREATE INDEX CONCURRENTLY "ix_BigChild_parentId_id" ON public."BigChild" '
        '("parentId", id DESC);'
    )
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        conn.execute(first["fix"])
    after = _json(fleet_url, "--workload", str(workload))
    assert not [f for f in after["findings"] if f["table"] == "BigChild"]
