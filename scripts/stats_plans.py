"""Do seven literal queries plan on a small database as on a big one, before and after
``dbtune stats import``?

    python scripts/stats_plans.py [--big 300000] [--small 3000] [--import-args=--grow-limit=0]

Two fresh databases at head on the embedded PostgreSQL 18 (``dbtune_stats_big`` and
``dbtune_stats_small``, recreated), seeded with ``--big`` and ``--small`` messages; the big
one's statistics exported and imported into the small one. Prints, per query, whether the
small database's plan tree (node types, relations, indexes) is the big one's, before and
after, the small database's row estimate for a whole-table scan against the big one's, and
``dbtune explain --no-analyze``'s exit code on each (and on the small one with ``--stats``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.integration.stats_probe import QUERIES, estimate, trees  # noqa: E402

from dbtune.reference import embedded  # noqa: E402
from dbtune.reference import schema as reference_schema  # noqa: E402
from dbtune.reference.seed import seed  # noqa: E402


def _verdict(url: str, *extra: str) -> int:
    """``dbtune explain --no-analyze``'s exit code on ``url``."""
    command = [sys.executable, "-m", "dbtune", "explain", "--dsn", url, "--no-analyze", *extra]
    return subprocess.run(command, capture_output=True, check=False).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=300_000)
    parser.add_argument("--small", type=int, default=3_000)
    parser.add_argument(
        "--import-args", nargs="*", default=[], metavar="ARG",
        help="extra arguments for `stats import` (e.g. --grow-limit 0: figures only)",
    )  # fmt: skip
    args = parser.parse_args()
    server = embedded.start()
    urls = {}
    for name, messages in (("big", args.big), ("small", args.small)):
        url = embedded.ensure_database(server, f"dbtune_stats_{name}", fresh=True)
        reference_schema.upgrade(url, "head")
        seed(url, messages=messages, users=max(50, messages // 100))
        urls[name] = url
    big, before = trees(urls["big"]), trees(urls["small"])
    estimates = [estimate(urls["big"]), estimate(urls["small"])]
    verdicts = [_verdict(urls["big"]), _verdict(urls["small"])]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stats.json"
        export = ["export", "--dsn", urls["big"], "--out", str(path)]
        subprocess.run([sys.executable, "-m", "dbtune", "stats", *export], check=True)
        verdicts.append(_verdict(urls["small"], "--stats", str(path)))
        load = ["import", "--dsn", urls["small"], str(path), *args.import_args]
        subprocess.run([sys.executable, "-m", "dbtune", "stats", *load], check=True)
    after = trees(urls["small"])
    estimates.append(estimate(urls["small"]))
    verdicts.append(_verdict(urls["small"]))
    print(f"| query ({args.big:,} vs {args.small:,} messages) | same plan before | after |")
    print("|---|---|---|")
    for key in QUERIES:
        print(f"| {key} | {'yes' if before[key] == big[key] else 'no'} | "
              f"{'yes' if after[key] == big[key] else 'no'} |")  # fmt: skip
    same = [sum(d[k] == big[k] for k in QUERIES) for d in (before, after)]
    print(f"| **same tree** | **{same[0]} of {len(QUERIES)}** | **{same[1]} of {len(QUERIES)}** |")
    print(
        f"\nrows the planner expects from conversation_history: big {estimates[0]:,.0f}, "
        f"small before {estimates[1]:,.0f}, small after the import {estimates[2]:,.0f}"
    )
    print(f"`dbtune explain --no-analyze` exit code: big {verdicts[0]}, small {verdicts[1]}, "
          f"small with --stats {verdicts[2]}, small after the import {verdicts[3]}")  # fmt: skip


if __name__ == "__main__":
    main()
