"""``dbtune fleet upgrade`` on 100 databases: serial against ``--parallel 4`` and ``8``.

    python scripts/bench_fleet.py [--databases 100] [--parallel 1 4 8] [--rounds 1]

The chain is the fleet test's (two revisions: a table, then an index built online). Each run
starts from fresh databases (dropped and created again, untimed) on the embedded PostgreSQL
18 and times the whole rollout (one canary, then the rest); each round runs every
``--parallel`` value, in a rotating order. Prints the wall time, the time per database, and
the ratio to the serial run of the same round, and the medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
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

from dbtune.reference import embedded  # noqa: E402


def _fresh(server: embedded.EmbeddedServer, names: list[str], create: bool = True) -> None:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            if create:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _rollout(targets: Path, ini: Path, parallel: int) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dbtune", "fleet", "upgrade", "--targets", str(targets), "-c",
         str(ini), "--parallel", str(parallel), "--format", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    results = {t["result"] for t in json.loads(done.stdout)["targets"]}
    if done.returncode != 0 or results != {"upgraded"}:
        sys.exit(f"the rollout failed: {done.stderr[-500:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", type=int, default=100)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    server = embedded.start()
    names = [f"fleet_bench_{i:03d}" for i in range(args.databases)]
    with tempfile.TemporaryDirectory() as folder:
        chain = Path(folder) / "chain"
        init = ["init-ops", str(chain), "--version-table", "alembic_version"]
        subprocess.run([sys.executable, "-m", "dbtune", *init], check=True, capture_output=True)
        (chain / "versions" / "f01_items.py").write_text(ITEMS)
        (chain / "versions" / "f02_owner.py").write_text(ITEMS_OWNER)
        targets = Path(folder) / "targets.txt"
        targets.write_text("\n".join(server.url(n) for n in names) + "\n")
        times: dict[int, list[float]] = {p: [] for p in args.parallel}
        for round_ in range(args.rounds):
            order = args.parallel[round_ % len(args.parallel):] + args.parallel[
                : round_ % len(args.parallel)]  # fmt: skip
            for parallel in order:
                _fresh(server, names)
                times[parallel].append(_rollout(targets, chain / "alembic.ini", parallel))
                print(f"round {round_ + 1}: --parallel {parallel}: {times[parallel][-1]:.1f} s",
                      flush=True)  # fmt: skip
        _fresh(server, names, create=False)
    serial = statistics.median(times[args.parallel[0]])
    print(f"\n| --parallel | wall s (median of {args.rounds}) | s per database | "
          f"vs --parallel {args.parallel[0]} |")  # fmt: skip
    print("|---|---|---|---|")
    for parallel in args.parallel:
        wall = statistics.median(times[parallel])
        print(f"| {parallel} | {wall:.1f} | {wall / args.databases:.2f} | {serial / wall:.2f}x |")


if __name__ == "__main__":
    main()
