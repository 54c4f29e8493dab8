"""One quoting discipline: every fix doctor prints executes and acts on the object it names,
and the migration helpers are idempotent on mixed-case names and non-public schemas.

The "zoo" is a schema nobody here designed: mixed case, spaces, quotes, a keyword, a 63-byte
name, a non-public schema, varchar columns, and lowercase twins of mixed-case objects (so that a
fix that lost its quotes would act on the wrong one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from pglast import split

from dbtune.db.dsn import sqlalchemy_url
from dbtune.errors import MigrationError
from dbtune.migrations import (
    add_checks_online,
    create_index_online,
    drop_checks_online,
    drop_index_online,
)
from tests.integration.helpers import run_cli

LONG = "ix_" + "x" * 60  # 63 bytes: the longest name PostgreSQL keeps
LONG_MIXED = "IX " + "y" * 60

ZOO = f"""
CREATE SCHEMA "App Schema";
CREATE TABLE "App Schema"."Parent" (id bigint PRIMARY KEY);
CREATE TABLE "App Schema"."Child" (
    id bigint PRIMARY KEY,
    "parentId" bigint REFERENCES "App Schema"."Parent" (id),
    "Body" text,
    "order" varchar(20),
    note varchar
);
CREATE TABLE "App Schema".child (id bigint PRIMARY KEY, body text);
CREATE TABLE "Orders" (id bigint PRIMARY KEY, "userRef" bigint, "createdAt" timestamptz);
CREATE TABLE orders (id bigint PRIMARY KEY, userref bigint);
INSERT INTO "App Schema"."Parent" SELECT g FROM generate_series(1, 10) g;
INSERT INTO "App Schema"."Child" SELECT g, g % 10 + 1, 'b' || g, 'o', 'n' FROM generate_series(1, 100) g;
CREATE INDEX "IX_Orders" ON "Orders" ("userRef");
CREATE INDEX ix_orders ON orders (userref);
CREATE INDEX "IX_Orders copy" ON "Orders" ("userRef");
CREATE INDEX "Bad Index" ON "App Schema"."Child" ("Body");
CREATE INDEX "{LONG}" ON "App Schema"."Child" (note);
CREATE INDEX "child ""quoted"" ix" ON "App Schema"."Child" ("order", id);
"""  # noqa: E501


def _plant_zoo(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in split(ZOO):
            conn.execute(statement)
        # An INVALID index whose name needs quotes, beside a valid lowercase twin.
        conn.execute('CREATE TABLE "App Schema".dups (v int)')
        conn.execute('INSERT INTO "App Schema".dups VALUES (1), (1)')
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute('CREATE UNIQUE INDEX CONCURRENTLY "Uniq V" ON "App Schema".dups (v)')
        conn.execute('CREATE INDEX "uniq v" ON "App Schema".dups (v) WHERE v > 0')


def _indexes(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relkind = 'i' AND n.nspname NOT LIKE 'pg_%'"
        ).fetchall()
    return {(str(a), str(b)) for a, b in rows}


def _doctor(url: str) -> dict[str, Any]:
    run = run_cli("doctor", "--dsn", url, "--format", "json", "--all", "--unused-min-mb", "0")
    assert run.code in (0, 1), run.stderr
    return dict(json.loads(run.stdout))


def _fixes(report: dict[str, Any], check: str) -> list[dict[str, str]]:
    return next(c["findings"] for c in report["checks"] if c["id"] == check)


def _apply(url: str, fix: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in split(fix):
            conn.execute(statement)


def test_every_printed_fix_executes_and_acts_on_the_named_object(empty_url: str) -> None:
    _plant_zoo(empty_url)
    report = _doctor(empty_url)

    invalid = _fixes(report, "invalid_indexes")
    assert [f["subject"] for f in invalid] == ['"App Schema"."Uniq V"']
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute(
            'DELETE FROM "App Schema".dups WHERE ctid = (SELECT min(ctid) FROM "App Schema".dups)'
        )
    _apply(empty_url, invalid[0]["fix"])  # drop and rebuild, now that the data allows it
    with psycopg.connect(empty_url) as conn:
        row = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
            ['"App Schema"."Uniq V"'],
        ).fetchone()
    assert row == (True,)
    assert ("App Schema", "uniq v") in _indexes(empty_url)  # the lowercase twin is untouched

    redundant = _fixes(report, "redundant_indexes")
    subjects = {f["subject"] for f in redundant}
    assert subjects & {'public."IX_Orders"', 'public."IX_Orders copy"'}, redundant
    assert "public.ix_orders" not in subjects
    for finding in redundant:
        _apply(empty_url, finding["fix"])
    left = _indexes(empty_url)
    assert ("public", "ix_orders") in left
    assert len({("public", "IX_Orders"), ("public", "IX_Orders copy")} & left) == 1

    unindexed = _fixes(report, "unindexed_foreign_keys")
    assert len(unindexed) == 1
    assert '"parentId"' in unindexed[0]["fix"]
    _apply(empty_url, unindexed[0]["fix"])

    wide = _fixes(report, "wide_indexes")
    by_subject = {f["subject"]: f for f in wide}
    assert '"App Schema"."Bad Index"' in by_subject
    assert f'"App Schema".{LONG}' in by_subject  # unbounded varchar, and a 63-byte name
    for finding in wide:
        _apply(empty_url, finding["fix"])

    after = _doctor(empty_url)
    for check in ("invalid_indexes", "redundant_indexes", "unindexed_foreign_keys", "wide_indexes"):
        assert _fixes(after, check) == [], (check, _fixes(after, check))


def test_an_index_on_a_mixed_case_text_column_is_reported_as_unbounded(empty_url: str) -> None:
    _plant_zoo(empty_url)
    with psycopg.connect(empty_url) as conn, pytest.raises(psycopg.errors.ProgramLimitExceeded):
        conn.execute(
            'INSERT INTO "App Schema"."Child" (id, "Body") '
            "SELECT 1000, string_agg(md5(random()::text), '') FROM generate_series(1, 200)"
        )
    subjects = [f["subject"] for f in _fixes(_doctor(empty_url), "wide_indexes")]
    assert '"App Schema"."Bad Index"' in subjects


@contextmanager
def operations(url: str, search_path: str | None = None) -> Iterator[sa.Connection]:
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            if search_path:
                conn.execute(sa.text(f"SET search_path = {search_path}"))
                conn.commit()
            with Operations.context(MigrationContext.configure(conn)):
                yield conn
            conn.commit()  # as Alembic commits a revision's transaction
    finally:
        engine.dispose()


def test_helpers_are_idempotent_on_mixed_case_and_search_path_schemas(empty_url: str) -> None:
    _plant_zoo(empty_url)
    columns = ["userRef", "createdAt DESC"]
    for _ in range(2):  # the second run finds the same index and does nothing
        with operations(empty_url, search_path="tenant, public"):
            create_index_online("IX Orders By User", "Orders", columns, include=["id"])
    assert ("public", "IX Orders By User") in _indexes(empty_url)
    with operations(empty_url), pytest.raises(MigrationError, match="key columns"):
        create_index_online("IX Orders By User", "Orders", ["userRef", "createdAt"])
    for _ in range(2):
        with operations(empty_url):
            create_index_online(
                LONG_MIXED,
                "Child",
                ["Body"],
                schema="App Schema",
                allow_wide=True,
                where="\"Body\" <> ''",
            )
    with operations(empty_url):
        drop_index_online("IX Orders By User", "Orders")
        drop_index_online("IX Orders By User", "Orders")  # gone already: nothing to do
    assert ("public", "IX Orders By User") not in _indexes(empty_url)


def test_checks_are_validated_by_their_exact_name(empty_url: str) -> None:
    """A mixed-case constraint is validated, not its lowercase twin."""
    _plant_zoo(empty_url)
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute(
            'ALTER TABLE "App Schema"."Child" ADD CONSTRAINT ck_body CHECK (true) NOT VALID'
        )
    checks = {"CK_Body": 'char_length("Body") <= 500', "ck body; x": "id > 0"}
    for _ in range(2):
        with operations(empty_url):
            add_checks_online("Child", checks, schema="App Schema")
    with psycopg.connect(empty_url) as conn:
        rows: dict[str, bool] = dict(
            conn.execute(
                "SELECT conname, convalidated FROM pg_constraint "
                "WHERE conrelid = to_regclass('\"App Schema\".\"Child\"') AND contype = 'c'"
            ).fetchall()
        )
    assert rows == {"CK_Body": True, "ck body; x": True, "ck_body": False}
    with operations(empty_url):
        drop_checks_online("Child", list(checks), schema="App Schema")
    with psycopg.connect(empty_url) as conn:
        left = conn.execute(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = to_regclass('\"App Schema\".\"Child\"') AND contype = 'c'"
        ).fetchall()
    assert left == [("ck_body",)]


def test_a_check_condition_must_be_one_expression(empty_url: str) -> None:
    _plant_zoo(empty_url)
    with operations(empty_url), pytest.raises(MigrationError, match="not one expression"):
        add_checks_online("orders", {"ck_x": "true) NOT VALID; DROP TABLE orders; --"})
