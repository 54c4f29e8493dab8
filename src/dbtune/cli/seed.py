"""``dbtune seed``: the reference schema filled with synthetic data."""

from __future__ import annotations

import argparse
from typing import Any

from dbtune import seed as seeding
from dbtune.cli.args import (
    DSN_HELP,
    EXIT_OK,
    positive_int,
)
from dbtune.config import load_config
from dbtune.demo import seed_with_progress
from dbtune.dsn import resolve_url
from dbtune.errors import UsageError
from dbtune.results import stderr_console


def run(args: argparse.Namespace) -> int:
    url = resolve_url(args.dsn, load_config().dsn_env)
    if url is None:
        raise UsageError("seed needs a database: pass --dsn postgresql://... or set DATABASE_URL")
    plan = seed_with_progress(
        url, messages=args.messages, users=args.users, seed_value=args.seed, replace=args.replace
    )
    stderr_console().print(
        f"dbtune: seeded {plan.messages} messages for {plan.users} users "
        f"(seed {plan.seed}) and ran VACUUM (ANALYZE)",
        soft_wrap=True,
    )
    return EXIT_OK


def add_arguments(sub: Any) -> None:
    seed = sub.add_parser("seed", help="fill the reference schema with synthetic data")
    seed.add_argument("--dsn", help=DSN_HELP)
    seed.add_argument("--messages", type=positive_int, default=seeding.DEFAULT_MESSAGES)
    seed.add_argument("--users", type=positive_int, default=seeding.DEFAULT_USERS)
    seed.add_argument("--seed", type=int, default=seeding.DEFAULT_SEED)
    seed.add_argument(
        "--replace", action="store_true", help="delete every row of the reference tables first"
    )
    seed.set_defaults(func=run)
