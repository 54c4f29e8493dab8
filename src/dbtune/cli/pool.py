"""``dbtune pool`` and ``dbtune pool tune``: the recommended size, checked against the server,
and measured on the workload."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from dbtune.cli.args import (
    DSN_HELP,
    DSN_HELP_NO_DEMO,
    EXIT_OK,
    TABLE_OR_JSON,
    WORKLOAD_HELP,
    database,
    positive_float,
    positive_int,
    report_console,
    shared,
    sizes,
    without_dsns,
)
from dbtune.commands import pool
from dbtune.config import load_config
from dbtune.db.dsn import resolve_url
from dbtune.errors import UsageError
from dbtune.results import stderr_console
from dbtune.workload import load_workload

TUNE_FILES = ("pool-tune.md", "pool-tune.png")


def run_tune(args: argparse.Namespace) -> int:
    pool.require_matplotlib()
    out = Path(args.out)
    existing = [out / name for name in TUNE_FILES if (out / name).exists()]
    if existing and not args.force:
        raise UsageError(
            f"{', '.join(str(p) for p in existing)} already exist(s): pass --force to replace "
            "them, or --out another folder"
        )
    config = load_config()
    workload = load_workload(args.workload or config.workload_path())
    url, _ = database(args.dsn, "pool tune")
    options = pool.TuneOptions(
        url,
        workload,
        driver=args.driver,
        clients=args.clients,
        seconds=args.duration,
        passes=args.passes,
        sizes=args.sizes or (),
    )
    console = stderr_console()
    with console.status("pool tune") as status:
        tuned = pool.tune(options, lambda text: status.update(f"pool tune: {text}"))
    command = "dbtune pool " + " ".join(without_dsns(args.argv))
    text = tuned.markdown(command.strip())
    out.mkdir(parents=True, exist_ok=True)
    (out / "pool-tune.md").write_text(text)
    tuned.plot(out / "pool-tune.png")
    if args.format == "json":
        print(json.dumps(tuned.to_json(), indent=2))
    else:
        print(text)
    console.print(f"dbtune: wrote {out / 'pool-tune.md'} and pool-tune.png", soft_wrap=True)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    url = resolve_url(args.dsn, load_config().dsn_env)
    facts, budget = pool.recommend(url, args.instances)
    if args.format == "json":
        print(json.dumps(facts, indent=2))
        return EXIT_OK
    table = Table(title="dbtune pool: recommended size", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in facts.items():
        if value is not None:
            table.add_row(key.replace("_", " "), str(value))
    report_console().print(table)
    if budget is None:
        stderr_console().print(
            "dbtune: no --dsn: the server's max_connections was not checked", soft_wrap=True
        )
    return EXIT_OK


def add_arguments(sub: Any) -> None:
    parser = sub.add_parser(
        "pool",
        parents=shared(dsn=DSN_HELP_NO_DEMO + "; none: no server check", formats=TABLE_OR_JSON),
        help="recommend a pool size for this machine and check it against the server",
    )
    parser.add_argument(
        "--instances",
        type=positive_int,
        default=1,
        help="how many processes of the service share the server (default 1)",
    )
    parser.set_defaults(func=run)
    pool_sub = parser.add_subparsers(dest="pool_command", metavar="{tune}")
    tune = pool_sub.add_parser(
        "tune",
        parents=shared(dsn=DSN_HELP, workload=WORKLOAD_HELP, formats=TABLE_OR_JSON),
        help="measure throughput and p95 per max_size on your own workload's reads",
        description="Sweeps the pool's max_size with the workload's reads (their pickers give "
        "the parameters) through the driver you use, in repeated passes, and reports "
        "throughput and p95 per size, the knee and where 2 x CPU + 5 lands, with a plot. Runs "
        "reads only, on read-only connections: the database is not changed.",
    )
    tune.add_argument("--driver", choices=pool.DRIVERS, default="psycopg")
    tune.add_argument(
        "--clients", type=positive_int, default=64, help="concurrent clients (default 64)"
    )
    tune.add_argument(
        "--duration", type=positive_float, default=3.0,
        help="seconds per size and pass (default 3)",
    )  # fmt: skip
    tune.add_argument(
        "--passes", type=positive_int, default=2,
        help="passes over the sizes, ascending and descending in turn (default 2)",
    )  # fmt: skip
    tune.add_argument(
        "--sizes", type=sizes, default=None,
        help="max_size values to try, e.g. 2,4,9,16 (default: powers of two up to --clients, "
        "2 x CPU + 5, within the server's connection budget)",
    )  # fmt: skip
    tune.add_argument(
        "--out", default="dbtune-bench",
        help="folder for pool-tune.md and pool-tune.png (default ./dbtune-bench)",
    )  # fmt: skip
    tune.add_argument("--force", action="store_true", help="replace a report already in --out")
    tune.set_defaults(func=run_tune)
