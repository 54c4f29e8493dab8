"""The pytest plugin's verdicts, run after run: the same suite N times, the statistics of its
tables changing between runs as autovacuum would change them (an ANALYZE every other run),
and the count of distinct verdict sets. One distinct set is the goal (the [proof] issue saw one
statement flagged in 3 of 8 runs).

    python scripts/plugin_repeat.py [--runs 20] [--dsn URL]

Without --dsn it uses the embedded server (a database of its own, made afresh). The suite is a
user's: SQLAlchemy, an engine at module import, ``sa.text`` with named parameters; the tables
are a skewed parent/child pair with an index on the parent key and a unique (parent, key).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psycopg

from dbtune.reference import embedded

SCHEMA = """
DROP TABLE IF EXISTS children;
CREATE TABLE children (
    id bigserial PRIMARY KEY,
    parent_id integer NOT NULL,
    key varchar(40) NOT NULL,
    score double precision NOT NULL,
    UNIQUE (parent_id, key)
);
CREATE INDEX ix_children_parent_id ON children (parent_id);
INSERT INTO children (parent_id, key, score)
SELECT CASE WHEN g % 10 = 0 THEN g % 20 ELSE 1 END, 'k' || g, (g * 7919) % 1000
FROM generate_series(1, 3000) g;
"""

SUITE = """
import os
import sqlalchemy as sa

URL = os.environ["APP_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
engine = sa.create_engine(URL)


def test_children_in_id_order():
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT id, key FROM children WHERE parent_id = :p ORDER BY id"),
                     {"p": 1}).all()


def test_one_child():
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT score FROM children WHERE parent_id = :p AND key = :k"),
                     {"p": 3, "k": "k3"}).all()


def test_best_children():
    with engine.connect() as conn:
        conn.execute(sa.text(
            "SELECT id FROM children WHERE parent_id = :p ORDER BY score DESC LIMIT 5"
        ), {"p": 1}).all()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--dsn")
    args = parser.parse_args()
    url = args.dsn or embedded.ensure_database(embedded.start(), "dbtune_plugin_repeat",
                                               fresh=True)  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    seen: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "test_suite.py").write_text(SUITE)
        (Path(folder) / "pytest.ini").write_text("[pytest]\n")
        for run in range(args.runs):
            if run % 2:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("ANALYZE children")
            report = Path(folder) / "plans.json"
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "--dbtune-plans", f"--dbtune-plans-report={report}"],
                cwd=folder, env={**os.environ, "APP_URL": url}, capture_output=True, check=False,
            )  # fmt: skip
            statements = json.loads(report.read_text())["statements"]
            verdicts = sorted(
                (s["sql"], s["status"], [c["id"] for c in s["checks"] if c["status"] == "fail"])
                for s in statements
            )
            seen[json.dumps(verdicts)] += 1
    print(f"{args.runs} runs, {len(seen)} distinct verdict set(s):")
    for text, count in seen.items():
        print(f"  {count} x")
        for sql, status, failing in json.loads(text):
            print(f"    {status:5} {', '.join(failing) or '-':12} {sql}")


if __name__ == "__main__":
    main()
