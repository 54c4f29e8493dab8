"""The embedded demo: with no ``--dsn``, explain, capture, pool tune and bench start the
embedded PostgreSQL, migrate its demo database and seed it, and say so; ``seed`` shows a
progress bar on a terminal."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dbtune.db import connect
from dbtune.reference import embedded
from dbtune.reference import schema as reference_schema
from dbtune.reference import seed as seeding
from dbtune.results import stderr_console


def seed_with_progress(
    url: str,
    *,
    messages: int,
    users: int,
    seed_value: int = seeding.DEFAULT_SEED,
    replace: bool = False,
) -> seeding.SeedPlan:
    plan = seeding.SeedPlan(messages=messages, users=users, seed=seed_value)
    plan.validate()
    console = stderr_console()
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
        seeder=seed_with_progress,
    )
    with connect(url, autocommit=True) as conn:
        version = conn.info.server_version // 10_000
        if stat_statements:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    what = f"seeded {present} messages" if seeded else f"{present} messages already there"
    stderr_console().print(
        f"dbtune: no --dsn or DATABASE_URL given: using the embedded PostgreSQL {version} "
        f"in {server.data_dir}, database {embedded.DEMO_DATABASE} "
        f"(migrated to head, {what})",
        soft_wrap=True,
    )
    return url
