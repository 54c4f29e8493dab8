"""``python -m dbtune``: a thin layer over the documented functions.

Errors are caught once, here, and become one line on stderr and an exit code: 0 every check
passed, 1 a check failed, 2 a usage or connection error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import psutil
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dbtune import embedded, reference_schema
from dbtune import seed as seeding
from dbtune.advisor import advisor
from dbtune.advisor.ops_chain import DEFAULT_VERSION_TABLE, init_ops
from dbtune.advisor.what_if import ENGINES
from dbtune.capture.statements import read_statements
from dbtune.capture.workload_file import captured_queries, merged, render, with_baselines
from dbtune.config import load_config
from dbtune.db import connect, connection_error_text
from dbtune.dsn import describe, redact, resolve_url
from dbtune.errors import DbtuneError, UsageError
from dbtune.explain import report as explain_report
from dbtune.explain.runner import CAN_USE, WILL_USE, run_workload
from dbtune.pool.budget import server_budget
from dbtune.results import Report, render_junit, render_markdown, render_table
from dbtune.sizing import DEFAULT_RESERVED, pool_size
from dbtune.workload import Workload, load_workload

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2
BENCH_DATABASE = "dbtune_bench"
REPORT_FILES = ("benchmarks.md", "bench-scaling.png", "bench-latency.png", "bench-pool.png")


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _seed_with_progress(
    url: str,
    *,
    messages: int,
    users: int,
    seed_value: int = seeding.DEFAULT_SEED,
    replace: bool = False,
) -> seeding.SeedPlan:
    plan = seeding.SeedPlan(messages=messages, users=users, seed=seed_value)
    plan.validate()
    console = _stderr()
    if not console.is_terminal:  # a log gets the closing line, not a progress bar
        return seeding.seed(
            url, messages=messages, users=users, seed_value=seed_value, replace=replace
        )
    total = (
        plan.users * 5 + plan.messages + sum(plan.rows(table) for table in seeding.MESSAGES_PER_ROW)
    )
    columns = (
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("seeding", total=total)

        def advance(step: str, rows: int) -> None:
            bar.update(task, advance=rows, description=step)

        return seeding.seed(
            url,
            messages=messages,
            users=users,
            seed_value=seed_value,
            replace=replace,
            progress=advance,
        )


def embedded_demo_url(*, stat_statements: bool = False) -> str:
    """Start the embedded server, migrate its demo database to head, seed it when empty;
    with ``stat_statements``, with pg_stat_statements loaded and created there."""
    server = embedded.start(stat_statements=stat_statements)
    url = embedded.ensure_database(server)
    present, seeded = reference_schema.prepare(
        url,
        messages=seeding.DEFAULT_MESSAGES,
        users=seeding.DEFAULT_USERS,
        seeder=_seed_with_progress,
    )
    with connect(url, autocommit=True) as conn:
        version = conn.info.server_version // 10_000
        if stat_statements:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    what = f"seeded {present} messages" if seeded else f"{present} messages already there"
    _stderr().print(
        f"dbtune: no --dsn or DATABASE_URL given: using the embedded PostgreSQL {version} "
        f"in {server.data_dir}, database {embedded.DEMO_DATABASE} "
        f"(migrated to head, {what})",
        soft_wrap=True,
    )
    return url


PIPED_WIDTH = 160


def pool_tune_drivers() -> tuple[str, ...]:
    from dbtune.bench.pool_tune import DRIVERS

    return DRIVERS


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _sizes(text: str) -> list[int]:
    return [_positive_int(part.strip()) for part in text.split(",") if part.strip()]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _size_mb(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of megabytes") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _report_console() -> Console:
    """The terminal's width on a terminal; when piped (CI logs, files), wide enough that no
    index name is folded across lines, so the output can be searched for it."""
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=PIPED_WIDTH)
    return console


def _emit(fmt: str, as_json: Callable[[], str], results: Report) -> None:
    """Print a report: the tool's own JSON, or the shared Markdown, JUnit or table."""
    if fmt == "table":
        render_table(results, _report_console())
        return
    text = (
        as_json()
        if fmt == "json"
        else {"markdown": render_markdown, "junit": render_junit}[fmt](results)
    )
    print(text, end="" if text.endswith("\n") else "\n")


def cmd_explain(args: argparse.Namespace) -> int:
    config = load_config()
    url = resolve_url(args.dsn, config.dsn_env)
    # A bad file fails before any server starts.
    workload = load_workload(args.workload or config.workload_path())
    embedded = url is None
    if url is None:
        url = embedded_demo_url()
    report = run_workload(
        url,
        workload,
        analyze=not args.no_analyze,
        mode=CAN_USE if args.can_use else WILL_USE,
        allow_writes=args.allow_writes,
        advise=advisor(args.what_if, embedded=embedded),
        seq_scan_rows=config.seq_scan_rows,
        allow_seq_scan=frozenset(config.allow_seq_scan),
    )
    _emit(
        args.format,
        lambda: explain_report.render_json(report),
        explain_report.as_results(report),
    )
    if report.errored:
        failed = [r for r in report.results if r.error is not None]
        first = failed[0]
        print(
            f"dbtune: error: {len(failed)} of {len(report.results)} query profiles could not "
            f"be checked (the report above has each reason); first, "
            f"{first.query.name}[{first.profile}]: {redact(first.error or '')}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def cmd_capture(args: argparse.Namespace) -> int:
    config = load_config()
    url = resolve_url(args.dsn, config.dsn_env) or embedded_demo_url(stat_statements=True)
    out = Path(args.out) if args.out else None
    existing = load_workload(out) if args.update and out is not None and out.exists() else None
    with connect(url) as conn:
        statements = read_statements(conn, top=args.top, min_calls=args.min_calls)
    if not statements:
        print(
            f"dbtune: nothing to capture on {describe(url)}: pg_stat_statements has no query "
            f"of this database's tables with at least {args.min_calls} calls yet; let the "
            "application run (or run dbtune bench), then capture again",
            file=sys.stderr,
        )
        return EXIT_USAGE
    queries = captured_queries(statements, pickers=not args.no_pickers)
    # Plans only: a captured statement may write, and a baseline needs no timings.
    report = run_workload(
        url,
        Workload("<capture>", tuple(queries)),
        analyze=False,
        seq_scan_rows=config.seq_scan_rows,
        allow_seq_scan=frozenset(config.allow_seq_scan),
    )
    plans = {r.query.name: r.plan for r in report.results}
    for r in report.results:
        if r.error is not None:
            print(f"dbtune: {r.query.name}: no baseline: {redact(r.error)}", file=sys.stderr)
    fresh = with_baselines(queries, plans)
    final = merged(existing, fresh) if existing is not None else fresh
    header = (
        f"Captured by dbtune from pg_stat_statements on {describe(url)}: the top {args.top} "
        f"statements by total time with at least {args.min_calls} calls.\n"
        "Expectations are the baseline (captured.baseline); hand-written keys survive "
        "`dbtune workload capture --update`."
    )
    text = render(final, header)
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        print(
            f"wrote {len(final)} queries ({len(statements)} statements captured) to {out}",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_init_ops(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    init_ops(directory, args.version_table)
    ini = directory / "alembic.ini"
    print(
        f"wrote an ops chain in {directory} (version table {args.version_table}).\n"
        f"  add revisions: dbtune revision --from REPORT.json --dir {directory / 'versions'}\n"
        f"  apply them:    DATABASE_URL=postgresql://... alembic -c {ini} upgrade head"
    )
    return EXIT_OK


def cmd_revision(args: argparse.Namespace) -> int:
    from dbtune.advisor.revision import load_report, write_revisions

    report_path = Path(args.report)
    report = load_report(report_path)
    versions = Path(args.dir)
    command = (
        f"dbtune explain --workload {report.get('workload')} --what-if --format json "
        f"(on {report.get('target')}) > {report_path}; "
        f"dbtune revision --from {report_path} --dir {versions}"
        + (" --unverified" if args.unverified else "")
    )
    written = write_revisions(report, versions, command, unverified=args.unverified)
    if not written:
        print(
            f"no revision written: {report_path} has no suggestion a what-if verified "
            "(run explain with --what-if, or pass --unverified)"
        )
        return EXIT_OK
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_seed(args: argparse.Namespace) -> int:
    url = resolve_url(args.dsn, load_config().dsn_env)
    if url is None:
        raise UsageError("seed needs a database: pass --dsn postgresql://... or set DATABASE_URL")
    plan = _seed_with_progress(
        url, messages=args.messages, users=args.users, seed_value=args.seed, replace=args.replace
    )
    _stderr().print(
        f"dbtune: seeded {plan.messages} messages for {plan.users} users "
        f"(seed {plan.seed}) and ran VACUUM (ANALYZE)",
        soft_wrap=True,
    )
    return EXIT_OK


TUNE_FILES = ("pool-tune.md", "pool-tune.png")


def cmd_pool_tune(args: argparse.Namespace) -> int:
    from dbtune.bench import machine, pool_tune
    from dbtune.bench.plots import pool_tune_plot, require_matplotlib

    require_matplotlib()
    out = Path(args.out)
    existing = [out / name for name in TUNE_FILES if (out / name).exists()]
    if existing and not args.force:
        raise UsageError(
            f"{', '.join(str(p) for p in existing)} already exist(s): pass --force to replace "
            "them, or --out another folder"
        )
    config = load_config()
    workload = load_workload(args.workload or config.workload_path())
    url = resolve_url(args.dsn, config.dsn_env) or embedded_demo_url()
    mix = pool_tune.build_mix(url, workload)
    if not mix.calls:
        raise UsageError(
            f"no query of {workload.source} can run: "
            + "; ".join(mix.skipped or ["the workload is empty"])
        )
    budget = server_budget(url)
    recommended = pool_size().max_size
    sizes = (
        sorted(set(args.sizes))
        if args.sizes
        else pool_tune.sizes_to_try(recommended, args.clients, budget.available)
    )
    console = _stderr()
    with console.status("pool tune") as status:
        result = asyncio.run(
            pool_tune.sweep(
                url,
                mix.calls,
                driver=args.driver,
                sizes=sizes,
                clients=args.clients,
                seconds=args.duration,
                passes=args.passes,
                recommended=recommended,
                progress=lambda text: status.update(f"pool tune: {text}"),
            )
        )
    with connect(url) as conn:
        version = conn.info.server_version
    command = "dbtune pool " + " ".join(_without_dsns(args.argv))
    text = pool_tune.render_markdown(
        result, mix, command=command.strip(), machine=machine.describe(version)
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "pool-tune.md").write_text(text)
    pool_tune_plot(result, out / "pool-tune.png")
    if args.format == "json":
        print(json.dumps(pool_tune.as_json(result, mix), indent=2))
    else:
        print(text)
    console.print(f"dbtune: wrote {out / 'pool-tune.md'} and pool-tune.png", soft_wrap=True)
    return EXIT_OK


def cmd_pool(args: argparse.Namespace) -> int:
    url = resolve_url(args.dsn, load_config().dsn_env)
    budget = server_budget(url) if url else None
    size = pool_size(
        instances=args.instances,
        server_max_connections=budget.max_connections if budget else None,
        reserved=budget.reserved if budget else DEFAULT_RESERVED,
    )
    fleet = args.instances * size.max_size
    facts: dict[str, object] = {
        "cpus": size.cpus,
        "cpu_source": size.source,
        "min_size": size.min_size,
        "max_size": size.max_size,
        "instances": args.instances,
        "fleet_max_connections": fleet,
        "clamped_by": size.clamped_by,
    }
    if budget:
        facts.update(
            server_max_connections=budget.max_connections,
            server_reserved_connections=budget.reserved,
            server_current_connections=budget.current,
            fits=fleet <= budget.available,
        )
    if args.format == "json":
        print(json.dumps(facts, indent=2))
        return EXIT_OK
    table = Table(title="dbtune pool: recommended size", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in facts.items():
        if value is not None:
            table.add_row(key.replace("_", " "), str(value))
    _report_console().print(table)
    if budget is None:
        _stderr().print(
            "dbtune: no --dsn: the server's max_connections was not checked", soft_wrap=True
        )
    return EXIT_OK


def _without_dsns(argv: Sequence[str]) -> list[str]:
    """The arguments without database URLs (they may hold a password), for a docstring."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--dsn", "--replica"):
            skip = True
        elif not arg.startswith(("--dsn=", "--replica=")):
            kept.append(arg)
    return kept


def cmd_doctor(args: argparse.Namespace) -> int:
    from dbtune.doctor import DoctorOptions, run_doctor
    from dbtune.doctor import report as doctor_report
    from dbtune.doctor.selection import Selection

    config = load_config()
    selection = Selection.build(args.schema or (), args.table or (), config.ignore)
    url = resolve_url(args.dsn, config.dsn_env)
    if url is None:
        raise UsageError("doctor needs a database: pass --dsn postgresql://... or set DATABASE_URL")
    if args.instances < 1:
        raise UsageError(f"--instances must be at least 1, got {args.instances}")
    if args.pool_max is not None and (args.pool_size is not None or args.max_overflow is not None):
        raise UsageError("give --pool-max, or SQLAlchemy's --pool-size/--max-overflow, not both")
    workload = args.workload or config.workload_path()
    hot = tuple((q.name, q.sql) for q in load_workload(workload).queries) if workload else ()
    options = DoctorOptions(
        instances=args.instances,
        hot_queries=hot,
        pool_max=args.pool_max,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        replicas=tuple(args.replica or ()),
        unused_min_bytes=int(args.unused_min_mb * 2**20),
        show_all=args.all,
        selection=selection,
    )
    if args.write_revision:
        from dbtune.migrations.chain import current_head

        current_head(Path(args.write_revision))  # a wrong folder fails before the server is read
    report = run_doctor(url, options)
    _emit(args.format, lambda: doctor_report.render_json(report), doctor_report.as_results(report))
    if args.write_revision:
        from dbtune.doctor.revision import write_fix_revision

        command = "dbtune doctor " + " ".join(_without_dsns(args.argv))
        path = write_fix_revision(report, Path(args.write_revision), command.strip())
        _stderr().print(
            f"dbtune: wrote {path}" if path else "dbtune: no schema fix to write as a revision",
            soft_wrap=True,
        )
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def _bench_series(args: argparse.Namespace) -> tuple[int, ...]:
    """The sizes to measure: --scale, or --messages alone, or what this machine can hold."""
    from dbtune.bench.scaling import default_series, parse_series

    if args.scale is not None:
        try:
            return parse_series(args.scale)
        except ValueError as exc:
            raise UsageError(f"--scale: {exc}") from None
    if args.messages is not None:
        if args.messages < 1000:
            raise UsageError("--messages: at least 1000 messages")
        return (args.messages,)
    free_disk = shutil.disk_usage(Path.cwd()).free
    return default_series(psutil.virtual_memory().total, free_disk, quick=args.quick)


def cmd_bench(args: argparse.Namespace) -> int:
    from dbtune.bench.plots import require_matplotlib
    from dbtune.bench.run import BenchConfig, run_bench, write_report
    from dbtune.bench.scaling import within

    require_matplotlib()
    out = Path(args.out)
    existing = [out / name for name in REPORT_FILES if (out / name).exists()]
    if existing and not args.force:  # checked before minutes of measuring, not after
        raise UsageError(
            f"{', '.join(str(p) for p in existing)} already exist(s): pass --force to replace "
            "them, or --out another folder"
        )

    config = BenchConfig.for_scales(_bench_series(args), args.quick)
    url = resolve_url(args.dsn, load_config().dsn_env)
    console = _stderr()
    if url is None:
        server = embedded.start()
        url = embedded.ensure_database(server, BENCH_DATABASE, fresh=True)
        console.print(
            f"dbtune: benchmarking on the embedded PostgreSQL in {server.data_dir}, "
            f"database {BENCH_DATABASE}",
            soft_wrap=True,
        )
    present, _ = reference_schema.prepare(
        url, messages=config.messages, users=config.users, seeder=_seed_with_progress
    )
    if present != config.messages:
        config = BenchConfig.for_scales(within(config.scales, present), args.quick)
    with console.status("benchmarking") as status:
        results = run_bench(url, config, lambda text: status.update(text))
    command = redact("python -m dbtune bench " + " ".join(args.argv))
    path = write_report(results, config, out, command.strip())
    console.print(
        f"dbtune: wrote {path}: covering index {results.speedup():,.0f}x faster than "
        f"no index; p95 {results.floor_ratio():.1f}x the SELECT 1 floor",
        soft_wrap=True,
    )
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    from dbtune.trace import judge
    from dbtune.trace import report as trace_report
    from dbtune.trace.changed import changed_since
    from dbtune.trace.rules import Settings
    from dbtune.trace.runner import DEFAULT_ROWS, TraceOptions, load_script, trace_chain
    from dbtune.trace.scratch import scratch_url

    options = TraceOptions(
        ini=Path(args.config) if args.config else None,
        script_location=Path(args.script_location) if args.script_location else None,
        from_revision=args.from_revision,
        to_revision=args.to_revision,
        version_table=args.version_table,
        version_table_schema=args.version_table_schema,
        settings=Settings(large_rows=args.large_rows),
    )
    _, script = load_script(options)  # a bad path fails before any server starts
    only = None
    if args.revision_files:
        only = frozenset(Path(p).resolve() for p in args.revision_files)
    if args.changed_since:
        changed = changed_since(args.changed_since, Path(script.versions))
        only = changed if only is None else only & changed
    url = resolve_url(args.dsn, load_config().dsn_env)
    console = _stderr()
    if url is None:
        url = scratch_url()
        rows = DEFAULT_ROWS if args.rows is None else args.rows
        console.print(
            f"dbtune: tracing on a fresh database on the embedded PostgreSQL "
            f"({describe(url)}), {rows:,} rows per table",
            soft_wrap=True,
        )
    else:
        rows = args.rows or 0
    options = replace(options, rows=rows, only=only)
    if only is not None and not only:
        console.print("dbtune: no revision file selected: nothing to trace", soft_wrap=True)
        return EXIT_OK
    with console.status("tracing") as status:
        chain = trace_chain(url, options, lambda text: status.update(text))
    report = judge(chain, options.settings)
    results = trace_report.as_results(report)
    _emit(args.format, lambda: trace_report.render_json(report), results)
    failed = [r for r in chain.revisions if r.error]
    if failed:
        print(
            f"dbtune: error: revision {failed[0].revision} failed, so the revisions after it "
            f"were not traced: {redact(failed[0].error or '')}",
            file=sys.stderr,
        )
    return results.exit_code


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what was wrong and where to look, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dbtune",
        description="Prove that a PostgreSQL service's hot queries use their indexes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    dsn_help = "database URL (default: DATABASE_URL, or [tool.dbtune] dsn_env)"

    explain = sub.add_parser(
        "explain",
        help="EXPLAIN the hot queries and check their plans",
        description="Run each hot query under EXPLAIN (ANALYZE, BUFFERS) in a rolled-back "
        "read-only transaction and check its plan. Without --dsn or DATABASE_URL it uses an "
        "embedded PostgreSQL, migrated and seeded. Exit 0 pass, 1 a check failed, 2 an error.",
    )
    explain.add_argument("--dsn", help=dsn_help + "; none: the embedded demo server")
    explain.add_argument("--workload", help="workload TOML file (default: the shipped one)")
    explain.add_argument(
        "--format", choices=("table", "json", "markdown", "junit"), default="table"
    )
    explain.add_argument(
        "--no-analyze", action="store_true", help="plan only, without executing the queries"
    )
    explain.add_argument(
        "--can-use",
        action="store_true",
        help="switch off seq scans, bitmap scans and sorts: proves each index can serve its "
        "query on a small database",
    )
    explain.add_argument(
        "--allow-writes",
        action="store_true",
        help="EXPLAIN ANALYZE write queries too (still rolled back)",
    )
    explain.add_argument(
        "--what-if",
        nargs="?",
        const="auto",
        choices=ENGINES,
        help="plan each failing query again as if its suggested index existed: with HypoPG "
        "when installed (no lock), else by building it in a rolled-back transaction (embedded "
        "server, or =build: holds a SHARE lock on the table while it builds)",
    )
    explain.set_defaults(func=cmd_explain)

    revision = sub.add_parser(
        "revision",
        help="write an Alembic revision per verified index suggestion of an explain report",
        description="Read `dbtune explain --what-if --format json` output and write one "
        "revision per suggestion a what-if verified, using create_index_online / "
        "drop_index_online, chained on the current head of --dir's chain.",
    )
    revision.add_argument("--from", dest="report", required=True, help="explain JSON report")
    revision.add_argument(
        "--dir", default="alembic/versions", help="the chain's versions directory"
    )
    revision.add_argument(
        "--unverified",
        action="store_true",
        help="also write suggestions no what-if ran for (never one a what-if showed failing)",
    )
    revision.set_defaults(func=cmd_revision)

    workload_cmd = sub.add_parser("workload", help="workload files: capture one")
    workload_sub = workload_cmd.add_subparsers(
        dest="workload_command", required=True, parser_class=_Parser
    )
    capture = workload_sub.add_parser(
        "capture",
        help="write a workload from pg_stat_statements, with baseline expectations",
        description="Read pg_stat_statements, take the top statements by total execution "
        "time (skipping utility, catalog and dbtune's own statements), and write a workload: "
        "each query checked as its generic plan, with the plan's current shape as its "
        "expectations. Without --dsn or DATABASE_URL it uses the embedded server.",
    )
    capture.add_argument("--dsn", help=dsn_help + "; none: the embedded demo server")
    capture.add_argument("--top", type=_positive_int, default=20)
    capture.add_argument("--min-calls", type=_positive_int, default=1)
    capture.add_argument("--out", help="workload file to write (default: standard output)")
    capture.add_argument(
        "--update",
        action="store_true",
        help="refresh the baselines of an existing --out file, keeping hand-written keys",
    )
    capture.add_argument(
        "--no-pickers", action="store_true", help="no custom-plan twins with picked values"
    )
    capture.set_defaults(func=cmd_capture)

    ops = sub.add_parser(
        "init-ops",
        help="scaffold an ops Alembic chain beside an application's own",
        description="Write DIR/alembic.ini, env.py, script.py.mako and versions/: an Alembic "
        "chain that keeps its place in its own version table, never in the application's "
        "alembic_version.",
    )
    ops.add_argument("directory", help="a new or empty directory")
    ops.add_argument("--version-table", default=DEFAULT_VERSION_TABLE)
    ops.set_defaults(func=cmd_init_ops)

    seed = sub.add_parser("seed", help="fill the reference schema with synthetic data")
    seed.add_argument("--dsn", help=dsn_help)
    seed.add_argument("--messages", type=_positive_int, default=seeding.DEFAULT_MESSAGES)
    seed.add_argument("--users", type=_positive_int, default=seeding.DEFAULT_USERS)
    seed.add_argument("--seed", type=int, default=seeding.DEFAULT_SEED)
    seed.add_argument(
        "--replace", action="store_true", help="delete every row of the reference tables first"
    )
    seed.set_defaults(func=cmd_seed)

    pool = sub.add_parser(
        "pool",
        help="recommend a pool size for this machine and check it against the server",
    )
    pool.add_argument("--dsn", help=dsn_help + "; none: no server check")
    pool.add_argument(
        "--instances",
        type=_positive_int,
        default=1,
        help="how many processes of the service share the server (default 1)",
    )
    pool.add_argument("--format", choices=("table", "json"), default="table")
    pool.set_defaults(func=cmd_pool)
    pool_sub = pool.add_subparsers(dest="pool_command", metavar="{tune}")
    tune = pool_sub.add_parser(
        "tune",
        help="measure throughput and p95 per max_size on your own workload's reads",
        description="Sweeps the pool's max_size with the workload's reads (their pickers give "
        "the parameters) through the driver you use, in repeated passes, and reports "
        "throughput and p95 per size, the knee and where 2 x CPU + 5 lands, with a plot. Runs "
        "reads only, on read-only connections: the database is not changed.",
    )
    tune.add_argument("--dsn", help=dsn_help + "; none: the embedded demo database")
    tune.add_argument(
        "--workload", help="workload TOML (default: [tool.dbtune] workload, else the reference)"
    )
    tune.add_argument("--driver", choices=pool_tune_drivers(), default="psycopg")
    tune.add_argument(
        "--clients", type=_positive_int, default=64, help="concurrent clients (default 64)"
    )
    tune.add_argument(
        "--duration", type=_positive_float, default=3.0,
        help="seconds per size and pass (default 3)",
    )  # fmt: skip
    tune.add_argument(
        "--passes", type=_positive_int, default=2,
        help="passes over the sizes, ascending and descending in turn (default 2)",
    )  # fmt: skip
    tune.add_argument(
        "--sizes", type=_sizes, default=None,
        help="max_size values to try, e.g. 2,4,9,16 (default: powers of two up to --clients, "
        "2 x CPU + 5, within the server's connection budget)",
    )  # fmt: skip
    tune.add_argument(
        "--out", default="dbtune-bench",
        help="folder for pool-tune.md and pool-tune.png (default ./dbtune-bench)",
    )  # fmt: skip
    tune.add_argument("--force", action="store_true", help="replace a report already in --out")
    tune.add_argument("--format", choices=("table", "json"), default="table")
    tune.set_defaults(func=cmd_pool_tune)

    doctor = sub.add_parser(
        "doctor",
        help="inspect a live database: invalid, redundant, unused and wide indexes, "
        "unindexed foreign keys, visibility, connection budget",
    )
    doctor.add_argument("--dsn", help=dsn_help)
    doctor.add_argument(
        "--instances",
        type=_positive_int,
        default=1,
        help="processes of the service sharing the server (default 1)",
    )
    doctor.add_argument(
        "--unused-min-mb",
        type=_size_mb,
        default=10.0,
        help="report unused indexes from this size up (default 10 MB)",
    )
    doctor.add_argument(
        "--pool-max", type=_positive_int, metavar="N",
        help="the application's pool maximum per instance (psycopg_pool/asyncpg max_size)",
    )  # fmt: skip
    doctor.add_argument(
        "--pool-size", type=_positive_int, metavar="N",
        help="SQLAlchemy's pool_size per instance (default 5 when --max-overflow is given)",
    )  # fmt: skip
    doctor.add_argument(
        "--max-overflow", type=int, metavar="N",
        help="SQLAlchemy's max_overflow per instance (default 10 when --pool-size is given)",
    )  # fmt: skip
    doctor.add_argument(
        "--replica", action="append", metavar="DSN",
        help="a streaming replica of the database (repeatable): an index it scans is not "
        "unused",
    )  # fmt: skip
    doctor.add_argument(
        "--workload", metavar="FILE",
        help="the hot queries (default: [tool.dbtune] workload): an unindexed foreign key they "
        "filter on gets the index they need",
    )  # fmt: skip
    doctor.add_argument(
        "--write-revision", metavar="DIR",
        help="write the listed schema fixes as one Alembic revision (with an undo) on top of "
        "the chain whose revisions are in DIR",
    )  # fmt: skip
    doctor.add_argument(
        "--all", action="store_true",
        help="list findings on small objects too (default: under 10,000 rows and 8 MB they "
        "are counted in one line)",
    )  # fmt: skip
    doctor.add_argument(
        "--schema", action="append", metavar="NAME", help="only this schema (repeatable)"
    )
    doctor.add_argument(
        "--table", action="append", metavar="PATTERN",
        help="only tables matching NAME or SCHEMA.NAME, * and ? allowed (repeatable)",
    )  # fmt: skip
    doctor.add_argument("--format", choices=("table", "json", "markdown", "junit"), default="table")
    doctor.set_defaults(func=cmd_doctor)

    bench = sub.add_parser(
        "bench",
        help="measure before/after evidence side by side and write benchmarks.md and plots",
        description="Measures hot-query latency without an index, with a plain btree and with "
        "the covering index; the naive INCLUDE (content, metadata) index; writers during an "
        "online and a plain build; insert cost per index; a pool size sweep. Without --dsn it "
        "uses the embedded server (database dbtune_bench, recreated). With --dsn use a scratch "
        "database: bench migrates it, seeds it when empty, and creates bench_* tables.",
    )
    bench.add_argument("--dsn", help=dsn_help + "; none: the embedded server")
    sizes = bench.add_mutually_exclusive_group()
    sizes.add_argument(
        "--scale",
        metavar="N,N,...",
        help="table sizes of the scaling series, e.g. 100000,1000000,3000000 (default: "
        "100k, 300k, 1M and 3M rows, as many as half this machine's memory holds; the largest "
        "is seeded)",
    )
    sizes.add_argument(
        "--messages", type=int, default=None, help="one size only: messages to seed and measure"
    )
    bench.add_argument(
        "--quick", action="store_true", help="100k rows, one size, short rounds: about a minute"
    )
    bench.add_argument(
        "--out", default="dbtune-bench",
        help="folder for benchmarks.md and the plots (default ./dbtune-bench; dbtune's own "
        "docs: --out docs --force)",
    )  # fmt: skip
    bench.add_argument("--force", action="store_true", help="replace a report already in --out")
    bench.set_defaults(func=cmd_bench)

    trace = sub.add_parser(
        "trace",
        help="run Alembic revisions on a scratch database and report what each statement "
        "locks, rewrites and scans",
        description="Runs the pending revisions of an Alembic chain one at a time — on a "
        "fresh database of the embedded server by default (every empty table given --rows "
        "rows before each revision), or on the database --dsn names (a staging copy: trace "
        "MIGRATES it) — records for every statement the locks it took, the tables it "
        "rewrote or scanned and the constraints it validated, and judges them with the "
        "rules of docs/trace.md. The revisions run through Alembic, not through your "
        "env.py, so nothing but the named database is touched. Exit 0 clean, 1 a rule "
        "flagged a revision, 2 a revision failed or bad usage.",
    )
    trace.add_argument("--dsn", help="database to migrate (default: a fresh embedded one)")
    where = trace.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", help="alembic.ini (default ./alembic.ini)")
    where.add_argument("--script-location", help="the migrations folder, without an ini")
    trace.add_argument(
        "--from", dest="from_revision", help="upgrade to this revision untraced first"
    )
    trace.add_argument("--to", dest="to_revision", default="heads", help="default: heads")
    trace.add_argument(
        "--rows", type=int, default=None,
        help=f"rows for each empty table before each revision (default {2000} on the "
        "embedded server, 0 with --dsn)",
    )  # fmt: skip
    trace.add_argument(
        "--large-rows", type=_positive_int, default=1000,
        help="a data change this large beside DDL is a finding (default 1000)",
    )  # fmt: skip
    trace.add_argument("--version-table", default="alembic_version")
    trace.add_argument("--version-table-schema", default=None)
    trace.add_argument(
        "--changed-since", metavar="GIT_REF",
        help="report only the revision files changed since GIT_REF (the others still run)",
    )  # fmt: skip
    trace.add_argument(
        "revision_files", nargs="*", metavar="FILE",
        help="report only these revision files (pre-commit passes the changed ones)",
    )  # fmt: skip
    trace.add_argument("--format", choices=("table", "json", "markdown", "junit"), default="table")
    trace.set_defaults(func=cmd_trace)
    return parser


def _unexpected(exc: BaseException) -> str:
    """One line for an error no command anticipated: what happened, and what to do."""
    if isinstance(exc, psycopg.OperationalError):
        return (
            f"the database connection failed: {connection_error_text(exc)} (check that the "
            "server is up and reachable, then run the command again)"
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return (
            f"permission denied: {connection_error_text(exc)} (use a role with the privileges "
            "this command needs)"
        )
    if isinstance(exc, psycopg.Error):
        return f"the database refused a statement: {connection_error_text(exc)}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unexpected {type(exc).__name__}: {first} (please report this)"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv[1:]
    try:
        code: int = args.func(args)
    except DbtuneError as exc:
        print(f"dbtune: error: {redact(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("dbtune: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"dbtune: error: {redact(_unexpected(exc))}", file=sys.stderr)
        return EXIT_USAGE
    return code
