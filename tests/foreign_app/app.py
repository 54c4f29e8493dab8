"""Set the shop up as its own team would: its Alembic chain, then its data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def alembic(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The shop's own ``alembic`` command, as its team runs it."""
    env = {**os.environ, "SHOP_DATABASE_URL": url}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(INI), *args],
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
