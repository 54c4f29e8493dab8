"""``dbtune fleet upgrade`` / ``fleet status``: many databases or tenant schemas as one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dbtune.cli.args import (
    DSN_HELP_NO_DEMO,
    EXIT_CHECK_FAILED,
    EXIT_OK,
    TABLE_OR_JSON,
    WORKLOAD_HELP,
    database,
    positive_int,
    report_console,
    say,
    shared,
)
from dbtune.commands import fleet
from dbtune.config import load_config
from dbtune.results import stderr_console
from dbtune.workload import load_workload


def _targets(args: argparse.Namespace) -> list[fleet.Target]:
    url = None
    if args.targets_query or args.schemas:
        why = "the fleet's tenants and databases are yours"
        if not args.targets:
            url, _ = database(args.dsn, "fleet --targets-query/--schemas", demo=why)
    named = fleet.FleetTargets(
        file=Path(args.targets) if args.targets else None,
        query=args.targets_query,
        schemas=args.schemas,
        url=url,
        shard=fleet.parse_shard(args.shard) if args.shard else None,
    )
    return fleet.targets(named)


def run_upgrade(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    options = fleet.UpgradeOptions(
        Path(args.config), args.to, args.parallel, args.timeout, args.continue_on_error,
        args.canary, Path(args.ledger) if args.ledger else None, args.url_env,
    )  # fmt: skip
    if options.ledger is not None:
        for name in fleet.interrupted(options.ledger):
            say(
                f"{name} was cut off mid-upgrade by the last run (its ledger): its revision is "
                "read again"
            )
    chain = fleet.Chain.load(options.ini, options.to)  # a wrong ini fails before the targets
    targets = _targets(args)
    with Progress(console=stderr_console(), transient=True) as bar:
        task = bar.add_task(f"upgrading {len(targets)} targets to {chain.head}", total=len(targets))
        _, outcomes = fleet.upgrade(options, targets, progress=lambda _: bar.advance(task))
    rows = [o.to_dict() for o in outcomes]
    if args.format == "json":
        print(json.dumps({"head": chain.head, "targets": rows}, indent=2))
    else:
        _table(["target", "from", "to", "s", "result", "error"],
               [[r["target"], r["from"] or "base", r["to"] or "base", f"{r['seconds']:.1f}",
                 r["result"], r["error"]] for r in rows])  # fmt: skip
    failed = [o for o in outcomes if o.result not in ("upgraded", "at target")]
    summary = stderr_console()
    for o in failed:
        summary.print(f"dbtune: {o.target.name}: {o.result}: {o.error}", soft_wrap=True)
    summary.print(f"dbtune: {len(outcomes) - len(failed)} of {len(outcomes)} targets at "
                  f"{chain.head}", soft_wrap=True)  # fmt: skip
    return EXIT_CHECK_FAILED if failed else EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    fleet.Chain.load(Path(args.config), args.to)  # a wrong ini fails before the targets
    chain, status = fleet.status(Path(args.config), _targets(args), args.to)
    data = status.to_dict(chain)
    if args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        counts: dict[str, list[str]] = {}
        for t in data["targets"]:
            counts.setdefault(t["revision"] or "base", []).append(t["target"])
        _table(["revision", "targets", "which"],
               [[rev, str(len(ts)), ", ".join(ts[:8]) + (" ..." if len(ts) > 8 else "")]
                for rev, ts in counts.items()])  # fmt: skip
        for finding in data["drift"]:
            print(f"drift: {finding['finding']}: {', '.join(finding['targets'])}")
        for target, why in data["errors"].items():
            print(f"not read: {target}: {why}")
    behind = [t for t in data["targets"] if not t["at_head"]]
    return EXIT_CHECK_FAILED if behind or data["drift"] or data["errors"] else EXIT_OK


def _print_groups(groups: list[fleet.Group], what: str, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({what: [{"kind": g.kind, "finding": g.text, "targets": list(g.targets)}
                                 for g in groups]}, indent=2))  # fmt: skip
        return
    _table(["kind", "finding", "targets"],
           [[g.kind, g.text, f"{len(g.targets)}: " + ", ".join(g.targets[:6])
             + (" ..." if len(g.targets) > 6 else "")] for g in groups])  # fmt: skip


def run_explain(args: argparse.Namespace) -> int:
    workload = load_workload(args.workload or load_config().workload_path())
    groups = fleet.explain(_targets(args), workload, args.parallel)
    _print_groups(groups, "findings", args.format)
    return EXIT_CHECK_FAILED if groups else EXIT_OK


def run_doctor(args: argparse.Namespace) -> int:
    groups = fleet.doctor(_targets(args), show_all=args.all)
    _print_groups(groups, "findings", args.format)
    return EXIT_CHECK_FAILED if groups else EXIT_OK


def _table(header: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    report_console().print(table)


def _fleet_arguments(parser: Any) -> None:
    parser.add_argument("-c", "--config", default="alembic.ini", help="the chain's alembic.ini")
    parser.add_argument(
        "--targets",
        metavar="FILE",
        help="one DSN per line, or TOML [[target]] with dsn, name, group",
    )
    parser.add_argument(
        "--targets-query", metavar="SQL", help="a query on --dsn returning DSNs or schema names"
    )
    parser.add_argument(
        "--schemas",
        metavar="PATTERN",
        help="tenant schemas of --dsn's database (SQL LIKE: tenant_%%)",
    )
    parser.add_argument("--to", default=None, metavar="REV", help="default: the chain's head")
    parser.add_argument(
        "--shard", metavar="K/N", help="only this runner's share of the targets (1/4 .. 4/4)"
    )


def _shared(workload: str | None = None) -> list[Any]:
    """The options every fleet command shares with the rest of dbtune."""
    return shared(dsn=DSN_HELP_NO_DEMO, workload=workload, formats=TABLE_OR_JSON)


def add_arguments(sub: Any) -> None:
    from dbtune.cli.args import Parser

    parser = sub.add_parser("fleet", help="migrate and check many databases or tenant schemas")
    fleet_sub = parser.add_subparsers(dest="fleet_command", required=True, parser_class=Parser)
    upgrade = fleet_sub.add_parser(
        "upgrade",
        parents=_shared(),
        help="upgrade every target: canaries first, then K at a time",
        description="Each target runs alembic upgrade in its own process (dbtune's environment: "
        "a migration lock per database or tenant, the online helpers' lock retries). Targets "
        "already at the revision are skipped, so a rerun resumes. Exit 0 all at the "
        "revision, 1 some failed or did not run, 2 usage.",
    )
    _fleet_arguments(upgrade)
    upgrade.add_argument(
        "--canary",
        type=int,
        default=1,
        metavar="N",
        help="upgrade these first; stop if any fails (default 1)",
    )
    upgrade.add_argument(
        "--parallel",
        type=positive_int,
        default=4,
        metavar="K",
        help="targets at a time, and connections per server (default 4)",
    )
    upgrade.add_argument("--continue-on-error", action="store_true")
    upgrade.add_argument(
        "--url-env", metavar="NAME",
        help="the variable your env.py reads its URL from, set to each target's (besides "
        "sqlalchemy.url and DATABASE_URL)",
    )  # fmt: skip
    upgrade.add_argument(
        "--ledger", metavar="FILE",
        help="append each target's start and end (result, revision, error) as they happen",
    )  # fmt: skip
    upgrade.add_argument(
        "--timeout",
        type=positive_int,
        default=fleet.DEFAULT_TIMEOUT_S,
        help=f"seconds per target (default {fleet.DEFAULT_TIMEOUT_S})",
    )
    upgrade.set_defaults(func=run_upgrade)
    _checks(fleet_sub)


def _checks(fleet_sub: Any) -> None:
    """``fleet status``, ``fleet explain``, ``fleet doctor``."""
    status = fleet_sub.add_parser(
        "status",
        parents=_shared(),
        help="each target's revision, and drift from the majority's indexes",
        description="Exit 0 all at the revision without drift, 1 otherwise, 2 usage.",
    )
    _fleet_arguments(status)
    status.set_defaults(func=run_status)
    explain = fleet_sub.add_parser(
        "explain",
        parents=_shared(WORKLOAD_HELP),
        help="the same workload on every target, findings grouped by kind",
        description="Plans only. Exit 0 no finding anywhere, 1 some, 2 usage.",
    )
    _fleet_arguments(explain)
    explain.add_argument("--parallel", type=positive_int, default=4, metavar="K")
    explain.set_defaults(func=run_explain)
    doctor = fleet_sub.add_parser(
        "doctor",
        parents=_shared(),
        help="doctor on every target, findings grouped by kind with their targets",
        description="A database's tenants are read once. Exit 0 nothing found, 1 findings, "
        "2 usage.",
    )
    _fleet_arguments(doctor)
    doctor.add_argument(
        "--all", action="store_true", help="list findings on small tables too (doctor --all)"
    )
    doctor.set_defaults(func=run_doctor)
