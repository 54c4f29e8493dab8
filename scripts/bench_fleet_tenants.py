"""``dbtune fleet upgrade`` over N tenant schemas of one database, beside the in-process floor.

    python scripts/bench_fleet_tenants.py [--tenants 1000] [--parallel 1 2]

The chain is the fleet test's (two revisions: a table, then an index built online), run on the
embedded PostgreSQL 18. Measured in one run, side by side, each from fresh schemas (dropped
and created again, untimed):

- the floor: the same upgrades back to back in this one process, through the same
  command-API path a worker takes (``dbtune.fleet.worker.upgrade``), no rollout around them;
- the rollout, ``dbtune fleet upgrade --schemas tenant_% --parallel K``, for each K;
- its no-op rerun (every tenant at head), and ``dbtune fleet status``.

Prints each figure, the time per tenant, and the rollout's ratio to the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.integration.test_fleet import ITEMS, ITEMS_OWNER  # noqa: E402

from dbtune.fleet.worker import Job, upgrade  # noqa: E402
from dbtune.reference import embedded  # noqa: E402


def _fresh(url: str, tenants: int) -> list[str]:
    names = [f"tenant_{i:04d}" for i in range(tenants)]
    with psycopg.connect(url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return names


def _chain(root: Path) -> Path:
    ops = root / "chain"
    done = subprocess.run(
        [sys.executable, "-m", "dbtune", "init-ops", str(ops), "--version-table",
         "alembic_version"], capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(done.stderr)
    (ops / "versions" / "f01_items.py").write_text(ITEMS)
    (ops / "versions" / "f02_owner.py").write_text(ITEMS_OWNER)
    return ops / "alembic.ini"


def _floor(url: str, ini: Path, names: list[str]) -> float:
    baseline = {k: os.environ[k] for k in ("DATABASE_URL", "PGOPTIONS") if k in os.environ}
    started = time.perf_counter()
    for name in names:
        error = upgrade(Job(str(ini), "f02_owner", url, name), baseline)
        if error:
            sys.exit(f"{name}: {error}")
    return time.perf_counter() - started


def _cli(*args: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dbtune", "fleet", *args, "--format", "json"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"fleet {args[0]} failed: {done.stderr[-800:]}")
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    server = embedded.start()
    url = embedded.ensure_database(server, "dbtune_bench_tenants", fresh=True)
    with tempfile.TemporaryDirectory() as tmp:
        ini = _chain(Path(tmp))
        names = _fresh(url, args.tenants)
        floor = _floor(url, ini, names)
        n = args.tenants
        print(f"{n} tenants, 2 revisions; embedded PostgreSQL 18")
        print(f"floor, in-process serial: {floor:.1f} s, {floor / n * 1000:.0f} ms per tenant")
        common = ["-c", str(ini), "--schemas", "tenant_%", "--dsn", url]
        for parallel in args.parallel:
            _fresh(url, n)
            seconds, _ = _cli("upgrade", *common, "--parallel", str(parallel))
            per = seconds / n * 1000
            ratio = seconds / floor
            print(f"fleet upgrade --parallel {parallel}: {seconds:.1f} s, {per:.0f} ms per tenant, "
                  f"{ratio:.2f}x the floor")  # fmt: skip
        rerun, _ = _cli("upgrade", *common, "--parallel", str(args.parallel[-1]))
        print(f"no-op rerun: {rerun:.1f} s")
        status, data = _cli("status", *common)
        print(f"fleet status: {status:.1f} s ({len(data['targets'])} targets)")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
