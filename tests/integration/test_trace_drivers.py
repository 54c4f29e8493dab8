"""``dbtune trace`` runs a chain on the driver the application runs it on ([steady] item 6).

An asyncpg application's revision may hold a ``%`` that psycopg reads as a placeholder
(``format('%I ...')`` sent with ``exec_driver_sql``): traced on psycopg it failed where the
application's own upgrade passes. The chain here is the application's kind: a schema of its
own with mixed-case names, a varchar key, rows bound as parameters, dbtune's online helper.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.helpers import fresh_database, run_cli
from tests.servers import Server

TABLE = '''"""A table in a schema of its own.

Revision ID: d01
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "d01"
down_revision = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA "App"')
    op.create_table(
        "Item",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("Name", sa.String(80)),
        schema="App",
    )
'''

FORMAT_INDEX = '''"""An index named through format(), sent as the driver's own text.

Revision ID: d02
Revises: d01
"""

from alembic import op

revision = "d02"
down_revision = "d01"


def upgrade() -> None:
    op.get_bind().exec_driver_sql(
        "DO $$ BEGIN EXECUTE format('CREATE INDEX %I ON %I.%I (%I)', "
        "'ix_item_name', 'App', 'Item', 'Name'); END $$"
    )
'''

ROWS_AND_ONLINE_INDEX = '''"""Rows bound as parameters, then an online index.

Revision ID: d03
Revises: d02
"""

import sqlalchemy as sa
from alembic import op

from dbtune.migrations import create_index_online

revision = "d03"
down_revision = "d02"


def upgrade() -> None:
    item = sa.table("Item", sa.column("id", sa.BigInteger), sa.column("Name", sa.String),
                    schema="App")
    op.bulk_insert(item, [{"id": i, "Name": f"n{i}"} for i in range(1, 6)])
    op.execute(sa.text('UPDATE "App"."Item" SET "Name" = :name WHERE id = :id')
               .bindparams(name="renamed", id=1))
    create_index_online("ix_item_name_id", "Item", ["Name", "id"], schema="App")
'''


def _chain(tmp_path: Path) -> Path:
    ops = tmp_path / "chain"
    assert run_cli("init-ops", str(ops), "--version-table", "alembic_version").code == 0
    for name, text in (("d01.py", TABLE), ("d02.py", FORMAT_INDEX),
                       ("d03.py", ROWS_AND_ONLINE_INDEX)):  # fmt: skip
        (ops / "versions" / name).write_text(text)
    return ops / "alembic.ini"


def _statement(revision: dict, starts: str) -> dict:  # type: ignore[type-arg]
    return next(s for s in revision["statements"] if s["sql"].startswith(starts))


def test_an_asyncpg_chain_is_traced_on_asyncpg(pg_server: Server, tmp_path: Path) -> None:
    ini = _chain(tmp_path)
    url = fresh_database(pg_server, "trace_on_asyncpg")
    on_psycopg = run_cli("trace", "--dsn", url, "-c", str(ini), "--format", "json")
    assert on_psycopg.code == 2  # the premise: psycopg reads %I as a placeholder
    assert "'%I'" in on_psycopg.stderr

    url = fresh_database(pg_server, "trace_on_asyncpg")
    asyncpg_url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    done = run_cli("trace", "--dsn", asyncpg_url, "-c", str(ini), "--format", "json")
    assert done.code in (0, 1), done.stderr
    revisions = {r["revision"]: r for r in json.loads(done.stdout)["revisions"]}
    assert list(revisions) == ["d01", "d02", "d03"]
    assert all(r["status"] != "error" for r in revisions.values()), revisions
    # observed on asyncpg's own connection: the lock the DO block's index build took ...
    built = _statement(revisions["d02"], "DO $$")
    assert {"relation": '"App"."Item"', "mode": "ShareLock"} in built["locks"]
    assert [f["rule"] for f in revisions["d02"]["findings"]] == ["lock_without_timeout"]
    # ... statements bound on the server, parsed with their placeholders ...
    rows = _statement(revisions["d03"], 'INSERT INTO "App"."Item"')
    assert "$1" in rows["sql"]
    assert {"relation": '"App"."Item"', "mode": "RowExclusiveLock"} in rows["locks"]
    # ... and dbtune's helper, run in autocommit on asyncpg, judged clean
    online = _statement(revisions["d03"], "CREATE INDEX CONCURRENTLY")
    assert online["locks"] == []
    assert revisions["d03"]["status"] == "pass", revisions["d03"]


def test_driver_names_the_driver_when_the_url_does_not(pg_server: Server, tmp_path: Path) -> None:
    ini = _chain(tmp_path)
    url = fresh_database(pg_server, "trace_driver_flag")
    done = run_cli("trace", "--dsn", url, "-c", str(ini), "--driver", "asyncpg", "--to", "d02")
    assert done.code == 1, done.stdout + done.stderr  # d02 traced, its finding reported
    assert "lock_without_timeout" in done.stdout
