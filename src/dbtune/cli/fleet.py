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
    database,
    positive_int,
    report_console,
)
from dbtune.config import load_config
from dbtune.errors import DbtuneError, UsageError
from dbtune.results import stderr_console


def _targets(args: argparse.Namespace) -> list[Any]:
    from dbtune.fleet import targets

    chosen = [bool(args.targets), bool(args.targets_query), bool(args.schemas)]
    if sum(chosen) != 1:
        raise UsageError("name the fleet once: --targets FILE, --targets-query SQL --dsn URL, "
                         "or --schemas PATTERN --dsn URL")  # fmt: skip
    if args.targets:
        return targets.from_file(Path(args.targets))
    why = "the fleet's tenants and databases are yours"
    url, _ = database(args.dsn, "fleet --targets-query/--schemas", demo=why)
    if args.targets_query:
        return targets.from_query(url, args.targets_query)
    return targets.tenant_schemas(url, args.schemas)


def run_upgrade(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from dbtune.fleet.upgrade import Chain, Rollout

    chain = Chain.load(Path(args.config), args.to)
    fleet = _targets(args)
    with Progress(console=stderr_console(), transient=True) as bar:
        task = bar.add_task(f"upgrading {len(fleet)} targets to {chain.head}", total=len(fleet))
        rollout = Rollout(chain, args.parallel, args.timeout, args.continue_on_error,
                          progress=lambda _: bar.advance(task))  # fmt: skip
        outcomes = rollout.run(fleet, args.canary)
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
    from dbtune.fleet.status import fleet_status
    from dbtune.fleet.upgrade import Chain

    chain = Chain.load(Path(args.config), args.to)
    status = fleet_status(_targets(args), chain)
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


def _with_search_path(target: Any) -> str:
    """The target's URL, with its tenant schema first on the search_path."""
    from psycopg.conninfo import make_conninfo

    if not target.schema:
        return str(target.url)
    return make_conninfo(target.url, options=f"-csearch_path={target.schema}")


def _print_groups(groups: list[Any], what: str, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({what: [{"kind": g.kind, "finding": g.text, "targets": list(g.targets)}
                                 for g in groups]}, indent=2))  # fmt: skip
        return
    _table(["kind", "finding", "targets"],
           [[g.kind, g.text, f"{len(g.targets)}: " + ", ".join(g.targets[:6])
             + (" ..." if len(g.targets) > 6 else "")] for g in groups])  # fmt: skip


def run_explain(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from dbtune.explain.runner import run_workload
    from dbtune.fleet.grouping import grouped
    from dbtune.workload import load_workload

    workload = load_workload(args.workload or load_config().workload_path())
    fleet = _targets(args)

    def one(target: Any) -> list[tuple[Any, str, str]]:
        try:
            report = run_workload(_with_search_path(target), workload, analyze=False)
        except DbtuneError as exc:
            return [(target, "error", exc.message)]
        found = []
        for r in report.results:
            if r.error:
                found.append((target, f"{r.query.name}[{r.profile}]", r.error))
            for c in r.checks:
                if c.status == "fail":
                    found.append((target, f"{r.query.name}[{r.profile}] {c.id}", c.message))
        return found

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        groups = grouped(f for found in pool.map(one, fleet) for f in found)
    _print_groups(groups, "findings", args.format)
    return EXIT_CHECK_FAILED if groups else EXIT_OK


def run_doctor(args: argparse.Namespace) -> int:
    from dbtune.doctor import DoctorOptions
    from dbtune.doctor.run import run_doctor as doctor
    from dbtune.fleet.grouping import grouped, tenant_of

    fleet = _targets(args)
    found: list[tuple[Any, str, str]] = []
    for url in dict.fromkeys(t.url for t in fleet):  # a database's tenants: read once
        on_it = [t for t in fleet if t.url == url]
        try:
            report = doctor(url, DoctorOptions(show_all=args.all))
        except DbtuneError as exc:
            found += [(t, "error", exc.message) for t in on_it]
            continue
        for outcome in report.outcomes:
            for scored in outcome.findings:
                finding = scored.finding
                owner = on_it[0]
                if owner.schema:  # the tenant whose schema it concerns, if any
                    owner = next((t for t in on_it if t.schema == scored.schema), None) or (
                        tenant_of(finding.subject, on_it)
                    )
                if owner is not None:
                    found.append((owner, outcome.id, finding.message))
    groups = grouped(found)
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
    parser.add_argument("--dsn", help=DSN_HELP_NO_DEMO)
    parser.add_argument("--to", default=None, metavar="REV", help="default: the chain's head")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def add_arguments(sub: Any) -> None:
    from dbtune.cli.args import Parser
    from dbtune.fleet.upgrade import DEFAULT_TIMEOUT_S

    fleet = sub.add_parser("fleet", help="migrate and check many databases or tenant schemas")
    fleet_sub = fleet.add_subparsers(dest="fleet_command", required=True, parser_class=Parser)
    upgrade = fleet_sub.add_parser(
        "upgrade",
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
        "--timeout",
        type=positive_int,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds per target (default {DEFAULT_TIMEOUT_S})",
    )
    upgrade.set_defaults(func=run_upgrade)
    _checks(fleet_sub)


def _checks(fleet_sub: Any) -> None:
    """``fleet status``, ``fleet explain``, ``fleet doctor``."""
    status = fleet_sub.add_parser(
        "status",
        help="each target's revision, and drift from the majority's indexes",
        description="Exit 0 all at the revision without drift, 1 otherwise, 2 usage.",
    )
    _fleet_arguments(status)
    status.set_defaults(func=run_status)
    explain = fleet_sub.add_parser(
        "explain",
        help="the same workload on every target, findings grouped by kind",
        description="Plans only. Exit 0 no finding anywhere, 1 some, 2 usage.",
    )
    _fleet_arguments(explain)
    explain.add_argument("--workload", help="workload TOML file (default: [tool.dbtune]'s)")
    explain.add_argument("--parallel", type=positive_int, default=4, metavar="K")
    explain.set_defaults(func=run_explain)
    doctor = fleet_sub.add_parser(
        "doctor",
        help="doctor on every target, findings grouped by kind with their targets",
        description="A database's tenants are read once. Exit 0 nothing found, 1 findings, "
        "2 usage.",
    )
    _fleet_arguments(doctor)
    doctor.add_argument(
        "--all", action="store_true", help="list findings on small tables too (doctor --all)"
    )
    doctor.set_defaults(func=run_doctor)
