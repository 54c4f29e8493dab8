"""The advisor's before/after on the shop (tests/foreign_app), measured side by side.

Starts (or attaches to) the embedded server, creates a fresh ``dbtune_shop_demo`` database,
installs the shop with its own Alembic chain and 100k orders, then runs
``dbtune explain --what-if=build --format json`` ``--runs`` times and prints, per query, the
suggestion and the median before/after time and buffers of its what-if, and their ratio.

    python scripts/advisor_demo.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.foreign_app import app as shop  # noqa: E402

from dbtune.reference import embedded  # noqa: E402


def _explain(url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "dbtune", "explain", "--dsn", url, "--workload",
         str(shop.WORKLOAD), "--what-if=build", "--format", "json"],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    if done.returncode not in (0, 1):
        raise SystemExit(f"explain failed: {done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    server = embedded.start()
    url = embedded.ensure_database(server, "dbtune_shop_demo", fresh=True)
    shop.install(url)
    runs = [_explain(url) for _ in range(args.runs)]
    print(f"shop: {shop.ORDERS:,} orders; {args.runs} runs of explain --what-if=build; medians\n")
    print("| query | suggestion | before | after | ratio | before buffers | after buffers |")
    print("|---|---|---|---|---|---|---|")
    for position, query in enumerate(runs[0]["queries"]):
        advice = query.get("advice") or {}
        suggestion = (advice.get("suggestion") or {}).get("sql", "-")
        advised = [r["queries"][position].get("advice") or {} for r in runs]
        measured = [a["what_if"] for a in advised if a.get("what_if")]
        if not measured:
            print(f"| {query['name']} | {suggestion} | - | - | - | - | - |")
            continue
        # A locking read is planned, not run: its what-if compares estimated costs.
        unit = "time_ms" if measured[0]["before"]["time_ms"] is not None else "cost"
        before = statistics.median(m["before"][unit] for m in measured)
        after = statistics.median(m["after"][unit] for m in measured)
        buffers = [
            statistics.median(m[k]["buffers"] or 0 for m in measured) for k in ("before", "after")
        ]
        passes = all(m["passes"] for m in measured)
        label = "ms" if unit == "time_ms" else "cost"
        print(
            f"| {query['name']} | `{suggestion}` | {before:,.3f} {label} | {after:,.3f} {label} | "
            f"{before / after:,.0f}x | {buffers[0]:,.0f} | {buffers[1]:,.0f}"
            f"{'' if passes else ' (still fails)'} |"
        )


if __name__ == "__main__":
    main()
