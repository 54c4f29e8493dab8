"""What `dbtune trace` costs, and what it measured for each rule's bad and safe revision.

1. Overhead: a generated 50-revision chain (the trace fixture's tables, then 49 revisions that
   add columns, build and drop indexes online, add and validate CHECKs) run on a fresh
   database of the embedded server, ``--rounds`` times each, interleaved: once traced (every
   statement observed, every rule judged) and once untraced through the same runner (the
   time of the migrations themselves). Prints the median of each and the ratio.
2. The rules table of docs/trace.md: the fixture chain (tests/trace_chain) traced once, and
   for each rule what the server showed for its bad revision and for the safe one.

    python scripts/bench_trace.py [--rounds 3] [--rows 2000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dbtune.reference import embedded  # noqa: E402
from dbtune.trace import judge  # noqa: E402
from dbtune.trace.record import RevisionTrace  # noqa: E402
from dbtune.trace.rules import Settings  # noqa: E402
from dbtune.trace.runner import TraceOptions, trace_chain  # noqa: E402

CHAIN = REPO / "tests" / "trace_chain"

HEADER = '''"""Generated {i}.

Revision ID: g{i:02d}
Revises: {previous}
"""

import sqlalchemy as sa
from alembic import op

from dbtune.migrations import add_checks_online, create_index_online, drop_index_online

revision = "g{i:02d}"
down_revision = "{previous}"
branch_labels = None
depends_on = None


def upgrade() -> None:
'''

BODIES = (
    "    op.execute(\"SET LOCAL lock_timeout = '2s'\")\n"
    '    op.add_column("Invoice", sa.Column("c{i}", sa.Integer), schema="App")\n',
    '    create_index_online("ix_g{i}", "Invoice", ["Status", "id"], schema="App")\n',
    '    drop_index_online("ix_g{j}", "Invoice", schema="App")\n',
    '    add_checks_online("Account", {{"ck_g{i}": "id > -{i}"}}, schema="App")\n',
)


def generated_chain(folder: Path, count: int) -> Path:
    """The fixture's base revision and ``count - 1`` generated ones, and their alembic.ini."""
    versions = folder / "versions"
    versions.mkdir(parents=True)
    shutil.copy(CHAIN / "versions" / "00_t00_base.py", versions / "00_t00_base.py")
    previous = "t00_base"
    for i in range(1, count):
        kind = i % len(BODIES)
        body = BODIES[kind].format(i=i, j=i - 1)
        if kind == 2 and i - 1 < 1:
            body = BODIES[0].format(i=i)
        (versions / f"{i:02d}_g{i:02d}.py").write_text(HEADER.format(i=i, previous=previous) + body)
        previous = f"g{i:02d}"
    ini = folder / "alembic.ini"
    ini.write_text(
        f"[alembic]\nscript_location = {folder}\nprepend_sys_path = {REPO}\npath_separator = os\n"
    )
    return ini


def fresh(server: embedded.EmbeddedServer) -> str:
    return embedded.ensure_database(server, "dbtune_trace_bench", fresh=True)


def overhead(server: embedded.EmbeddedServer, rounds: int, rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ini = generated_chain(Path(tmp), 50)
        timings: dict[str, list[float]] = {"traced": [], "untraced": []}
        for _ in range(rounds):
            for mode in ("traced", "untraced"):
                url = fresh(server)
                only: frozenset[Path] | None = None if mode == "traced" else frozenset()
                started = time.perf_counter()
                chain = trace_chain(url, TraceOptions(ini=ini, rows=rows, only=only))
                if mode == "traced":
                    judge(chain, Settings())
                    assert len(chain.revisions) == 50, [r.error for r in chain.revisions]
                    assert not any(r.error for r in chain.revisions)
                timings[mode].append(time.perf_counter() - started)
        traced, untraced = (statistics.median(timings[m]) for m in ("traced", "untraced"))
        print("| 50-revision chain | median of", rounds, "| per revision |")
        print("|---|---|---|")
        per = traced / 50 * 1000
        print(f"| traced (rows {rows:,} per table) | {traced:.2f} s | {per:.0f} ms |")
        print(f"| untraced, same runner | {untraced:.2f} s | {untraced / 50 * 1000:.0f} ms |")
        print(f"| ratio | {traced / untraced:.2f}x | |")


def _facts(revision: RevisionTrace) -> str:
    """Each statement that did something to an existing table, and what the server showed."""
    parts: list[str] = []
    for s in revision.work():
        words = s.sql.replace("\n", " ").split()
        if not words or words[0].upper() in ("SELECT", "SET", "SAVEPOINT", "RELEASE"):
            continue
        locks = sorted(
            {k.spelled for k in s.locks if k.blocks_writes and revision.existed(k.relation)}
        )
        bits = ["/".join(locks)] if locks else []
        if s.autocommit:
            bits.append("own transaction")
        if [r for r in s.rewritten if r.kind == "r"]:
            bits.append("rewrite")
        bits += [f"scan {c.rows:,}" for c in s.scanned if revision.existed(c.relation)]
        what = " ".join(w for w in words[:6] if not w.startswith('"'))
        part = f"`{what}`: {', '.join(bits) or '-'}"
        if part not in parts:
            parts.append(part)
    return "; ".join(parts) or "-"


def rules_table(server: embedded.EmbeddedServer, rows: int) -> None:
    url = fresh(server)
    chain = trace_chain(url, TraceOptions(ini=CHAIN / "alembic.ini", rows=rows))
    report = judge(chain, Settings())
    by_id = {r.revision: r for r in chain.revisions}
    print("| rule | bad revision: what the server showed | flagged | safe revision | flagged |")
    print("|---|---|---|---|---|")
    for revision in chain.revisions:
        if revision.revision.endswith("_safe") or revision.revision in ("t00_base", "t13_allowed"):
            continue
        safe = by_id.get(revision.revision + "_safe")
        rules = ", ".join(f.rule for f in report.findings[revision.revision]) or "-"
        safe_rules = ", ".join(f.rule for f in report.findings[safe.revision]) if safe else ""
        print(
            f"| {rules} | {_facts(revision)} | yes | "
            f"{_facts(safe) if safe else ''} | {'no' if safe and not safe_rules else safe_rules} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    server = embedded.start()
    overhead(server, args.rounds, args.rows)
    print()
    rules_table(server, args.rows)


if __name__ == "__main__":
    main()
