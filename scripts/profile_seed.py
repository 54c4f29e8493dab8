"""Where ``dbtune seed`` spends its time: each step timed, on a fresh database at head.

    python scripts/profile_seed.py [--messages 1000000] [--users 10000]

Migrates a fresh database (``dbtune_seed_profile``, recreated) on the embedded server to head,
seeds it with a progress callback that stamps each step, and prints the seconds per step
(messages in total, each other table, the final VACUUM ANALYZE) and the total, with the size of
``conversation_history``. Run it before and after a change to the seed, on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dbtune.reference import embedded  # noqa: E402
from dbtune.reference import schema as reference_schema  # noqa: E402
from dbtune.reference.seed import seed  # noqa: E402

DATABASE = "dbtune_seed_profile"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    server = embedded.start()
    url = embedded.ensure_database(server, DATABASE, fresh=True)
    reference_schema.upgrade(url, "head")
    spent: dict[str, float] = defaultdict(float)
    last = [time.perf_counter()]

    def stamp(step: str, rows: int) -> None:
        now = time.perf_counter()
        spent[step] += now - last[0]
        last[0] = now

    began = last[0]
    seed(url, messages=args.messages, users=args.users, progress=stamp)
    total = time.perf_counter() - began
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('conversation_history'))"
        ).fetchone()
    print(f"| step ({args.messages:,} messages, {args.users:,} users) | seconds |")
    print("|---|---|")
    for step, seconds in spent.items():
        print(f"| {step} | {seconds:.2f} |")
    print(f"| **total** | **{total:.2f}** |")
    print(f"\nconversation_history: {row[0] if row else '?'}")


if __name__ == "__main__":
    main()
