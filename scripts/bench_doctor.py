"""How long ``dbtune doctor`` takes on a big catalog: 500 tables, 2,000 indexes.

Generates (once) a database ``dbtune_doctor_bench`` on the embedded server: ``--tables``
tables in 10 schemas, each with a primary key, three more indexes, a foreign key to the
previous table, a few hundred rows and statistics; then runs the whole doctor (one catalog
read, every check) ``--rounds`` times in this process, and once through the CLI, and prints the
medians and the number of catalog statements one run sends (counted by pg_stat_statements).

    python scripts/bench_doctor.py [--tables 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dbtune.doctor import DoctorOptions, run_doctor  # noqa: E402
from dbtune.reference import embedded  # noqa: E402

DATABASE = "dbtune_doctor_bench"


def build(url: str, tables: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        have = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname LIKE 'bench%%' AND c.relkind = 'i'"
        ).fetchone()
        if have and have[0] >= tables * 4:
            return
        for n in range(tables):
            schema = f"bench{n % 10}"
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            table = sql.Identifier(schema, f"t{n}")
            parent = (
                sql.SQL(" REFERENCES {} (id)").format(
                    sql.Identifier(f"bench{(n - 1) % 10}", f"t{n - 1}")
                )
                if n
                else sql.SQL("")
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (id bigint PRIMARY KEY, parent_id bigint{}, a int, b text, "
                    "c timestamptz, d boolean)"
                ).format(table, parent)
            )
            conn.execute(sql.SQL(
                "INSERT INTO {} SELECT g, {}, g % 10, 'x' || g, now(), g % 2 = 0 "
                "FROM generate_series(1, 300) g"
            ).format(table, sql.SQL("g") if n else sql.SQL("NULL")))  # fmt: skip
            for cols in ("a", "b", "a, c"):
                conn.execute(sql.SQL("CREATE INDEX ON {} ({})").format(table, sql.SQL(cols)))
        conn.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = embedded.start(stat_statements=True)
    url = embedded.ensure_database(server, DATABASE)
    started = time.perf_counter()
    build(url, args.tables)
    print(f"database ready in {time.perf_counter() - started:.1f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname LIKE 'bench%%' AND c.relkind = 'r'), "
            "(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname LIKE 'bench%%' AND c.relkind = 'i')"
        ).fetchone()
    assert counts is not None
    print(f"{counts[0]} tables, {counts[1]} indexes")
    options = DoctorOptions(show_all=True)
    times = []
    for _ in range(args.rounds):
        began = time.perf_counter()
        report = run_doctor(url, options)
        times.append(time.perf_counter() - began)
    findings = sum(len(o.findings) + o.small for o in report.outcomes)
    sent: dict[str, tuple[int, int]] = {}
    for label, opts in (
        ("all", options),
        ("catalog only", DoctorOptions(show_all=True, widest_entry_max_rows=-1)),
    ):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")
        run_doctor(url, opts)
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*), sum(calls) FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s "
                "AND query NOT LIKE '%%pg_stat_statements%%'",
                [DATABASE],
            ).fetchone()
            assert row is not None
            sent[label] = (int(row[0]), int(row[1]))
    began = time.perf_counter()
    cli = subprocess.run(
        [sys.executable, "-m", "dbtune", "doctor", "--dsn", url, "--format", "json"],
        capture_output=True, check=False,
    )  # fmt: skip
    cli_s = time.perf_counter() - began
    print(f"| doctor on {counts[0]} tables, {counts[1]} indexes | seconds |")
    print("|---|---|")
    print(f"| run_doctor, median of {args.rounds} | {statistics.median(times):.2f} |")
    print(f"| the CLI, once (Python start-up included, exit {cli.returncode}) | {cli_s:.2f} |")
    print(
        f"\n{findings} findings. One run sent {sent['all'][1]} statements: "
        f"{sent['catalog only'][1]} catalog queries in one transaction, and the rest measure "
        "the widest value of each unbounded indexed column (a savepoint and a max() per index, "
        "tables under 200,000 rows)"
    )


if __name__ == "__main__":
    main()
