"""Set the shop up as its own team would: its Alembic chain, then its data."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).parent
INI = HERE / "alembic.ini"
WORKLOAD = HERE / "workload.toml"
HEAD = "shop_0002"
ORDERS = 100_000
CUSTOMERS = 2_000

_CUSTOMERS = """
INSERT INTO "Shop"."Customer" (id, email, "displayName")
SELECT g, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, %(customers)s) g
"""
_ORDERS = """
INSERT INTO "Shop"."Orders" (id, "customerId", status, "createdAt", total, note)
SELECT md5(g::text)::uuid,
       CASE WHEN g %% 3 = 0 THEN 1 ELSE 1 + g %% (%(customers)s - 1) END,
       (ARRAY['open', 'paid', 'shipped', 'cancelled'])[1 + (g / 7) %% 4],
       timestamptz '2026-11-01' - g * interval '1 minute',
       g %% 1000,
       'note ' || g
FROM generate_series(1, %(orders)s) g
"""


def alembic(url: str, *args: str, ini: Path = INI) -> subprocess.CompletedProcess[str]:
    """The shop's own ``alembic`` command, as its team runs it."""
    env = {**os.environ, "SHOP_DATABASE_URL": url}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ini), *args],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip


def install(url: str, orders: int = ORDERS) -> None:
    """Migrate with the shop's chain, load its data, and VACUUM ANALYZE."""
    done = alembic(url, "upgrade", "head")
    if done.returncode != 0:
        raise RuntimeError(f"the shop's migrations failed: {done.stderr}")
    with psycopg.connect(url, autocommit=True) as conn:
        sizes = {"orders": orders, "customers": CUSTOMERS}
        conn.execute(_CUSTOMERS, sizes)
        conn.execute(_ORDERS, sizes)
        conn.execute('VACUUM ANALYZE "Shop"."Customer", "Shop"."Orders"')


def order_id(number: int) -> uuid.UUID:
    """The id ``install`` gave order ``number`` (1-based)."""
    return uuid.UUID(hashlib.md5(str(number).encode()).hexdigest())


def traffic(conn: psycopg.Connection[Any], number: int) -> None:
    """One write of the shop's own, as its service sends them: a new order, an order paid, a
    customer renamed (both tables of the foreign key are written)."""
    if number % 3 == 0:
        conn.execute(
            'INSERT INTO "Shop"."Orders" (id, "customerId", status, "createdAt", total, note) '
            "VALUES (gen_random_uuid(), %s, 'open', clock_timestamp(), 1, 'placed meanwhile')",
            [1 + number % (CUSTOMERS - 1)],
        )
    elif number % 3 == 1:
        conn.execute(
            """UPDATE "Shop"."Orders" SET status = 'paid' WHERE id = %s""",
            [order_id(1 + number % ORDERS)],
        )
    else:
        conn.execute(
            """UPDATE "Shop"."Customer" SET "displayName" = %s WHERE id = %s""",
            [f"Customer {number}", 1 + number % CUSTOMERS],
        )


def chain_with(directory: Path, revisions: dict[str, str]) -> Path:
    """A copy of the shop's chain in ``directory`` with more revisions (file name -> source),
    and the alembic.ini that runs it. Returns the ini's path."""
    shutil.copytree(HERE / "migrations", directory / "migrations",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name, source in revisions.items():
        (directory / "migrations" / "versions" / name).write_text(source)
    ini = directory / "alembic.ini"
    ini.write_text(
        INI.read_text()
        .replace("%(here)s/migrations", str(directory / "migrations"))
        .replace("%(here)s/../..", str(HERE.parents[1]))
    )
    return ini
