"""What capture costs: the pytest plugin's overhead on a suite, and capture over N statements.

Starts (or attaches to) the embedded server with pg_stat_statements, creates a database with
``--statements`` small tables (each with an index, so each statement is distinct and
servable), then:

1. writes a test suite of one test per table, each running its lookup ``--calls`` times, and
   runs it with and without ``--dbtune-plans``, interleaved ``--rounds`` times; prints the
   median wall times and their ratio;
2. runs every statement once more so pg_stat_statements holds them all, and times
   ``dbtune workload capture --top N`` (``--rounds`` runs, median).

    python scripts/bench_capture.py [--statements 200] [--calls 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from dbtune.reference import embedded

SUITE = """
import os
import psycopg
import pytest

URL = os.environ["BENCH_URL"]
TABLES = {tables}
CALLS = {calls}


@pytest.fixture(scope="module")
def conn():
    with psycopg.connect(URL, autocommit=True) as connection:
        yield connection


@pytest.mark.parametrize("table", TABLES)
def test_lookup(conn, table):
    # One SQL text per call site, as an application's code (or its ORM) sends it.
    query = psycopg.sql.SQL("SELECT id, v FROM {{}} WHERE k = %s").format(
        psycopg.sql.Identifier(table)).as_string(conn)
    for i in range(CALLS):
        row = conn.execute(query, [i]).fetchone()
        assert row is None or row[0] >= 0
"""


def _letters(n: int) -> str:
    text = ""
    while True:
        n, rest = divmod(n, 26)
        text = chr(ord("a") + rest) + text
        if n == 0:
            return text
        n -= 1


def _setup(url: str, count: int) -> list[str]:
    # Letters, not digits: pglast's fingerprint folds numbered table names together (for
    # partitions): bench_t10 and bench_t11 would be one statement.
    names = [f"bench_{_letters(i)}" for i in range(count)]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for name in names:
            table = sql.Identifier(name)
            conn.execute(
                sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, k int, v text)").format(table)
            )
            conn.execute(sql.SQL("CREATE INDEX ON {} (k)").format(table))
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} SELECT g, g % 50, 'v' FROM generate_series(1, 200) g"
                ).format(table)
            )
        conn.execute("ANALYZE")
    return names


def _pytest(directory: Path, url: str, *extra: str) -> float:
    env = {**os.environ, "BENCH_URL": url}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
        cwd=directory, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the suite failed:\n{done.stdout[-2000:]}")
    return elapsed


def _per_statement(url: str, tables: list[str], rounds: int) -> float:
    """The recorder's own cost per distinct statement (ms, median of rounds): each round on a
    new connection (a cold backend, as a test's is) with a new recorder, in this process, so
    neither pytest's start nor the suite's own queries blur it."""
    from dbtune.config import load_config
    from dbtune.pytest_plans import PlanRecorder

    timings = []
    for _ in range(rounds):
        with psycopg.connect(url, autocommit=True) as conn:
            recorder = PlanRecorder(load_config(), strict=False)
            queries = [
                sql.SQL("SELECT id, v FROM {} WHERE k = %s")
                .format(sql.Identifier(table))
                .as_string(conn)
                for table in tables
            ]
            started = time.perf_counter()
            for query in queries:
                literal = psycopg.ClientCursor(conn).mogrify(query, [5])
                recorder.observe(literal, "psycopg", conn, template=query)
            timings.append((time.perf_counter() - started) / len(tables) * 1000)
            if any(seen.error for seen in recorder.seen.values()):
                raise SystemExit("the recorder failed to plan a statement")
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=200)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = embedded.start(stat_statements=True)
    url = embedded.ensure_database(server, "dbtune_bench_capture", fresh=True)
    tables = _setup(url, args.statements)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "test_suite.py").write_text(SUITE.format(tables=tables, calls=args.calls))
        plain, planned = [], []
        for r in range(args.rounds):  # alternate which goes first: drift hits both alike
            if r % 2:
                planned.append(_pytest(directory, url, "--dbtune-plans"))
                plain.append(_pytest(directory, url))
            else:
                plain.append(_pytest(directory, url))
                planned.append(_pytest(directory, url, "--dbtune-plans"))
        out = directory / "w.toml"
        captures = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "dbtune", "workload", "capture", "--dsn", url,
                 "--top", str(args.statements), "--no-pickers", "--out", str(out)],
                check=True, capture_output=True,
            )  # fmt: skip
            captures.append(time.perf_counter() - started)
        captured = out.read_text().count("[[query]]")
    per_statement = _per_statement(url, tables, args.rounds)
    p50, q50 = statistics.median(plain), statistics.median(planned)
    print(
        f"{args.statements} tests, one distinct statement each, {args.calls} calls per test, "
        f"{args.rounds} interleaved rounds, medians\n"
    )
    print("| run | wall s |")
    print("|---|---|")
    print(f"| pytest | {p50:.2f} |")
    print(f"| pytest --dbtune-plans | {q50:.2f} |")
    print(f"\noverhead: {q50 / p50 - 1:+.0%} ({q50 - p50:.2f} s for {args.statements} plans)")
    # Each round's two runs side by side: less exposed to the machine's drift than the
    # difference of two medians.
    paired = statistics.median(q / p - 1 for p, q in zip(plain, planned, strict=True))
    print(f"overhead, median of the {args.rounds} rounds' own ratios: {paired:+.0%}")
    print(f"the recorder alone: {per_statement:.2f} ms per distinct statement (median of rounds)")
    print(
        f"capture: {statistics.median(captures):.2f} s for the top {args.statements} "
        f"statements ({captured} queries written)"
    )


if __name__ == "__main__":
    main()
