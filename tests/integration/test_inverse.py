"""Every revision dbtune writes takes its downgrade from the operation's inverse: an index a
revision drops is built again from its keys as the catalog holds them by OID — an expression,
a partial index, a collation, an operator class, NULLS order, INCLUDE, another access method,
names that need quotes — and ``alembic downgrade`` leaves ``pg_get_indexdef`` as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from dbtune.catalog import psycopg_runner, read_indexes
from dbtune.migrations.revision_file import RevisionFile
from dbtune.sql import helper_calls as calls
from tests.integration.helpers import REPO, run_cli

PLANT = (
    'CREATE SCHEMA "Inv"',
    'CREATE TABLE "Inv"."Account" (id bigint PRIMARY KEY, email varchar(200), '
    "name varchar(100), active boolean, n int, tags text[])",
    "INSERT INTO \"Inv\".\"Account\" SELECT g, 'U' || g || '@x.org', 'n' || g, g % 3 = 0, "
    "g % 97, ARRAY['t' || g % 5] FROM generate_series(1, 3000) g",
    'CREATE INDEX ix_expr ON "Inv"."Account" (lower(email))',
    'CREATE INDEX ix_partial ON "Inv"."Account" (n DESC NULLS LAST) WHERE active',
    'CREATE INDEX ix_coll ON "Inv"."Account" (name COLLATE "C" varchar_pattern_ops)',
    'CREATE INDEX ix_gin ON "Inv"."Account" USING gin (tags)',
    'CREATE INDEX ix_incl ON "Inv"."Account" (n) INCLUDE (email)',
    'CREATE INDEX "ix Mixed ""Case""" ON "Inv"."Account" (name DESC, id)',
    'ANALYZE "Inv"."Account"',
)
INDEXES = ("ix_expr", "ix_partial", "ix_coll", "ix_gin", "ix_incl", 'ix Mixed "Case"')
SNAPSHOT = """
SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'Inv' ORDER BY 1
"""


def _snapshot(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(str(a), str(b)) for a, b in conn.execute(SNAPSHOT)]


def _alembic(ops: Path, url: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ops / "alembic.ini"), *args],
        capture_output=True, text=True, env={**os.environ, "DATABASE_URL": url}, cwd=REPO,
        check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _lint(path: Path) -> None:
    for args in (["check", "--no-cache", "--isolated"], ["format", "--check", "--no-cache"]):
        lint = subprocess.run([sys.executable, "-m", "ruff", *args, str(path)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert lint.returncode == 0, lint.stdout + lint.stderr


def _plant(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in PLANT:
            conn.execute(statement)
    return _snapshot(url)


def test_a_drop_is_undone_exactly_from_the_catalog(empty_url: str, tmp_path: Path) -> None:
    before = _plant(empty_url)
    with psycopg.connect(empty_url) as conn:
        found = {i.name: i for i in read_indexes(psycopg_runner(conn)) if i.schema == "Inv"}
    drops = [
        calls.drop_index(name, "Account", schema="Inv", recreate=found[name].spec())
        for name in INDEXES
    ]
    undos = [d.undo for d in reversed(drops) if d.undo is not None]
    assert len(undos) == len(drops)
    ops = tmp_path / "ops"
    assert run_cli("init-ops", str(ops)).code == 0
    path = RevisionFile("inv0001", None, "Drop and rebuild.", [("", drops)], [("", undos)]).write(
        ops / "versions", "inverse"
    )
    text = path.read_text()
    assert "IndexKey(expression=" in text
    assert 'collation="C", opclass="varchar_pattern_ops"' in text
    assert 'method="gin"' in text
    assert 'IndexKey(column="n", descending=True, nulls_first=False)' in text
    _lint(path)

    _alembic(ops, empty_url, "upgrade", "head")
    assert [name for name, _ in _snapshot(empty_url)] == ["Account_pkey"]
    _alembic(ops, empty_url, "downgrade", "base")
    assert _snapshot(empty_url) == before


def test_doctors_revision_rebuilds_what_it_drops_exactly(empty_url: str, tmp_path: Path) -> None:
    before = _plant(empty_url)
    ops = tmp_path / "ops"
    assert run_cli("init-ops", str(ops)).code == 0
    wrote = run_cli(
        "doctor", "--dsn", empty_url, "--all", "--schema", "Inv", "--unused-min-mb", "0",
        "--write-revision", str(ops / "versions"),
    )  # fmt: skip
    assert wrote.code == 1, wrote.stderr
    [revision] = list((ops / "versions").glob("*_doctor_fixes.py"))
    text = revision.read_text()
    for name in ("ix_expr", "ix_partial", "ix_coll", "ix_gin"):
        assert f'drop_index_online("{name}", "Account", schema="Inv")' in text
    assert "IndexKey(expression=" in text
    _lint(revision)

    _alembic(ops, empty_url, "upgrade", "head")
    assert {name for name, _ in _snapshot(empty_url)}.isdisjoint({"ix_expr", "ix_coll"})
    _alembic(ops, empty_url, "downgrade", "base")
    assert _snapshot(empty_url) == before
