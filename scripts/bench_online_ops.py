"""Each online helper against the plain statement it replaces: the worst stall of a writer.

Starts (or attaches to) the embedded server, installs the shop (tests/foreign_app: schema
"Shop", varchar columns) with ``--orders`` orders as a template database, and then, for each
operation and ``--rounds`` times, interleaved: copies the template, starts the shop's own
writer (a new order, an order paid, a customer renamed, one write at a time), runs either the
dbtune helper or the plain ``ALTER``/``UPDATE``, and records the writer's worst and median write
latency and the operation's wall time. Prints medians over the rounds, side by side.

It also times the ACCESS EXCLUSIVE step of NOT NULL alone: ``SET NOT NULL`` with a validated
``CHECK (note IS NOT NULL)`` (the scan skipped) against ``SET NOT NULL`` without one.

    python scripts/bench_online_ops.py [--orders 300000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.foreign_app import app as shop  # noqa: E402

from dbtune.bench.writer import writing  # noqa: E402
from dbtune.db.dsn import sqlalchemy_url  # noqa: E402
from dbtune.migrations import (  # noqa: E402
    add_column_online,
    add_foreign_key_online,
    add_unique_online,
    backfill,
    change_column_type_online,
    set_not_null_online,
)
from dbtune.reference import embedded  # noqa: E402

ORDERS = '"Shop"."Orders"'
TEMPLATE = "bench_ops_template"


@contextmanager
def revision(url: str) -> Iterator[None]:
    """Alembic's ``op`` inside a revision's transaction, as ``alembic upgrade`` runs one."""
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"transaction_per_migration": True})
            with Operations.context(context), context.begin_transaction(_per_migration=True):
                yield
    finally:
        engine.dispose()


def plain(statement: str) -> Callable[[str], None]:
    def run(url: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)

    return run


def helper(call: Callable[[], None]) -> Callable[[str], None]:
    def run(url: str) -> None:
        with revision(url):
            call()

    return run


def unindexed_fk(url: str) -> None:
    """The shop without its foreign key but with the index the key needs."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'ALTER TABLE {ORDERS} DROP CONSTRAINT "Orders_customerId_fkey"')
        conn.execute(f'CREATE INDEX "ix_Orders_customerId" ON {ORDERS} ("customerId")')


OPERATIONS: dict[str, tuple[Callable[[str], None] | None, Callable[[str], None], str]] = {
    "add_foreign_key_online": (
        unindexed_fk,
        helper(lambda: add_foreign_key_online(
            "fk", "Orders", ["customerId"], "Customer", ["id"], schema="Shop")),
        f'ALTER TABLE {ORDERS} ADD CONSTRAINT fk FOREIGN KEY ("customerId") '
        'REFERENCES "Shop"."Customer" (id)',
    ),
    "set_not_null_online": (
        None,
        helper(lambda: set_not_null_online("Orders", "note", schema="Shop")),
        f"ALTER TABLE {ORDERS} ALTER COLUMN note SET NOT NULL",
    ),
    "add_unique_online": (
        None,
        helper(lambda: add_unique_online(
            "uq", "Orders", ["customerId", "createdAt"], schema="Shop")),
        f'ALTER TABLE {ORDERS} ADD CONSTRAINT uq UNIQUE ("customerId", "createdAt")',
    ),
    "add_column_online (volatile default)": (
        None,
        helper(lambda: add_column_online(
            "Orders", "trackingId", "uuid", default="gen_random_uuid()", not_null=True,
            schema="Shop", batch_size=5000)),
        f'ALTER TABLE {ORDERS} ADD COLUMN "trackingId" uuid NOT NULL DEFAULT gen_random_uuid()',
    ),
    "add_column_online (constant default)": (
        None,
        helper(lambda: add_column_online(
            "Orders", "channel", "varchar(10)", default="'web'", not_null=True, schema="Shop")),
        f"ALTER TABLE {ORDERS} ADD COLUMN channel varchar(10) NOT NULL DEFAULT 'web'",
    ),
    "change_column_type_online (varchar 20 -> 40)": (
        None,
        helper(lambda: change_column_type_online(
            "Orders", "status", "varchar(40)", schema="Shop")),
        f"ALTER TABLE {ORDERS} ALTER COLUMN status TYPE varchar(40)",
    ),
    "backfill": (
        None,
        helper(lambda: backfill(
            "Orders", {"total": "total + 1000"}, schema="Shop", batch_size=5000)),
        'UPDATE "Shop"."Orders" SET total = total + 1000',
    ),
}  # fmt: skip


def fresh(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")


def measure(url: str, operation: Callable[[str], None]) -> tuple[float, float, float]:
    """(worst write ms, median write ms, operation s) with the shop's writer running."""
    with writing(url, step=shop.traffic) as writer:
        started = time.perf_counter()
        operation(url)
        took = time.perf_counter() - started
    stats = writer.stats()
    if stats.failures:
        raise SystemExit(f"the writer failed {stats.failures} time(s): {writer.failures[:2]}")
    return stats.worst_s * 1000, stats.median_s * 1000, took


def not_null_step(url: str, rounds: int) -> tuple[float, float]:
    """Median ms of SET NOT NULL with a validated check, and without one."""
    proved: list[float] = []
    scanned: list[float] = []
    for _ in range(rounds):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {ORDERS} ADD CONSTRAINT ck CHECK (note IS NOT NULL)")
            for samples, setup in ((proved, None), (scanned, "DROP CONSTRAINT ck")):
                if setup:
                    conn.execute(f"ALTER TABLE {ORDERS} ALTER COLUMN note DROP NOT NULL")
                    conn.execute(f"ALTER TABLE {ORDERS} {setup}")
                started = time.perf_counter()
                conn.execute(f"ALTER TABLE {ORDERS} ALTER COLUMN note SET NOT NULL")
                samples.append((time.perf_counter() - started) * 1000)
            conn.execute(f"ALTER TABLE {ORDERS} ALTER COLUMN note DROP NOT NULL")
    return statistics.median(proved), statistics.median(scanned)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    server = embedded.start()
    admin = server.url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    shop.install(server.url(TEMPLATE), orders=args.orders)
    print(f"shop: {args.orders:,} orders; {args.rounds} rounds, helper and plain interleaved")
    print(f"{'operation':46} {'worst write ms':>22} {'median write ms':>16} {'wall s':>14}")
    print(f"{'':46} {'helper':>10} {'plain':>11} {'helper/plain':>16} {'helper':>7} {'plain':>6}")
    for name, (setup, online, statement) in OPERATIONS.items():
        samples: dict[str, list[tuple[float, float, float]]] = {"helper": [], "plain": []}
        for _ in range(args.rounds):
            for kind, operation in (("helper", online), ("plain", plain(statement))):
                fresh(admin, "bench_ops")
                url = server.url("bench_ops")
                if setup is not None:
                    setup(url)
                samples[kind].append(measure(url, operation))
        worst = {k: statistics.median(s[0] for s in v) for k, v in samples.items()}
        median = {k: statistics.median(s[1] for s in v) for k, v in samples.items()}
        wall = {k: statistics.median(s[2] for s in v) for k, v in samples.items()}
        print(
            f"{name:46} {worst['helper']:10.1f} {worst['plain']:11.1f} "
            f"{median['helper']:7.2f}/{median['plain']:<7.2f} "
            f"{wall['helper']:7.2f} {wall['plain']:6.2f}"
        )
    fresh(admin, "bench_ops")
    proved, scanned = not_null_step(server.url("bench_ops"), args.rounds)
    print(
        f"\nSET NOT NULL alone (ACCESS EXCLUSIVE), median of {args.rounds}: "
        f"{proved:.2f} ms with a validated CHECK, {scanned:.2f} ms scanning "
        f"({scanned / proved:.0f}x)"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_ops WITH (FORCE)")
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
