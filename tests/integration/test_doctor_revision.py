"""``doctor --write-revision``: the fixes as one revision of an ops chain; upgrade clears the
findings, downgrade restores every index and constraint exactly (``pg_get_indexdef``,
``pg_get_constraintdef``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tests.integration.helpers import REPO, run_cli

PLANT = (
    'CREATE SCHEMA "Shop"',
    'CREATE TABLE "Shop"."Customer" (id bigint PRIMARY KEY, email varchar(120))',
    'CREATE TABLE "Shop"."Orders" (id bigint PRIMARY KEY, "customerId" bigint, status int, '
    "note text)",
    'INSERT INTO "Shop"."Customer" SELECT g, \'c\' || g FROM generate_series(1, 50) g',
    'INSERT INTO "Shop"."Orders" SELECT g, 1 + g % 50, g % 4, \'n\' FROM generate_series(1, 500) g',
    # unindexed_foreign_keys, and duplicated_foreign_keys (a second key, same columns)
    'ALTER TABLE "Shop"."Orders" ADD CONSTRAINT "fk_Orders_customer" FOREIGN KEY ("customerId") '
    'REFERENCES "Shop"."Customer" (id)',
    'ALTER TABLE "Shop"."Orders" ADD CONSTRAINT "fk_Orders_customer_again" FOREIGN KEY '
    '("customerId") REFERENCES "Shop"."Customer" (id)',
    # redundant_indexes: a prefix of another, with a predicate-free, DESC definition to restore
    'CREATE INDEX "ix_Orders_status" ON "Shop"."Orders" (status DESC)',
    'CREATE INDEX "ix_Orders_status_note" ON "Shop"."Orders" (status DESC, note)',
    # not_valid_constraints
    'ALTER TABLE "Shop"."Orders" ADD CONSTRAINT "ck_Orders_status" CHECK (status >= 0) NOT VALID',
    'ANALYZE "Shop"."Customer", "Shop"."Orders"',
)

SNAPSHOT = """
SELECT 'index', c.relname, pg_get_indexdef(c.oid) FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'Shop'
UNION ALL
SELECT 'constraint', k.conname, pg_get_constraintdef(k.oid) || ' valid=' || k.convalidated
FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = 'Shop'
ORDER BY 1, 2
"""


def _snapshot(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(SNAPSHOT).fetchall()


def _alembic(ops: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ops / "alembic.ini"), *args],
        capture_output=True, text=True, env=env, cwd=REPO, check=False, timeout=300,
    )  # fmt: skip


def _checks(url: str) -> dict[str, int]:
    run = run_cli("doctor", "--dsn", url, "--format", "json", "--all", "--schema", "Shop")
    report = json.loads(run.stdout)
    return {c["id"]: len(c["findings"]) for c in report["checks"] if c["findings"]}


def test_fixes_as_a_revision_upgrade_then_downgrade(empty_url: str, tmp_path: Path) -> None:
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for statement in PLANT:
            conn.execute(statement)
    before = _snapshot(empty_url)
    assert _checks(empty_url) == {
        "unindexed_foreign_keys": 2,
        "duplicated_foreign_keys": 1,
        "redundant_indexes": 1,
        "not_valid_constraints": 1,
        "wide_indexes": 1,  # "ix_Orders_status_note" holds note text: a length CHECK
    }
    ops = tmp_path / "ops"
    assert run_cli("init-ops", str(ops)).code == 0
    wrote = run_cli(
        "doctor", "--dsn", empty_url, "--all", "--schema", "Shop",
        "--write-revision", str(ops / "versions"),
    )  # fmt: skip
    assert wrote.code == 1, wrote.stderr
    [revision] = list((ops / "versions").glob("*_doctor_fixes.py"))
    text = revision.read_text()
    assert (
        'create_index_online("ix_Orders_customerId", "Orders", ["customerId"], schema="Shop")'
        in (text)
    )
    assert 'drop_index_online("ix_Orders_status", "Orders", schema="Shop")' in text
    assert "execute_online(" in text  # the CHECK, the validations
    assert "from dbtune.migrations import" in text
    assert "from alembic" not in text
    assert "postgresql://" not in text
    for config in (["--isolated"], ["--config", str(REPO / "pyproject.toml")]):
        for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
            lint = subprocess.run([sys.executable, "-m", "ruff", *args, *config, str(revision)],
                                  capture_output=True, text=True)  # fmt: skip
            assert lint.returncode == 0, (config, lint.stdout + lint.stderr)

    offline = _alembic(ops, empty_url, "upgrade", "head", "--sql")
    assert offline.returncode == 0, offline.stderr
    sql_text = " ".join(offline.stdout.split())
    assert "SET lock_timeout = '5s'; " in sql_text
    assert 'ALTER TABLE "Shop"."Orders" VALIDATE CONSTRAINT "ck_Orders_status";' in sql_text

    up = _alembic(ops, empty_url, "upgrade", "head")
    assert up.returncode == 0, up.stderr
    assert _checks(empty_url) == {}

    down = _alembic(ops, empty_url, "downgrade", "-1")
    assert down.returncode == 0, down.stderr
    after = _snapshot(empty_url)
    # what the fixes dropped is back exactly; what they added is gone; the NOT VALID check
    # stays validated (validating is not undone: the rows were proven)
    assert [r for r in after if r[1] != "ck_Orders_status"] == [
        r for r in before if r[1] != "ck_Orders_status"
    ]
    assert ("constraint", "ck_Orders_status", "CHECK ((status >= 0)) valid=true") in after


def test_a_wrong_folder_fails_before_the_database_is_read(tmp_path: Path) -> None:
    run = run_cli(
        "doctor",
        "--dsn",
        "postgresql://u:pw@127.0.0.1:9/x",
        "--write-revision",
        str(tmp_path / "no"),
    )
    assert run.code == 2
    assert "is not a directory" in run.stderr
