"""``dbtune seed``: the reference schema filled with synthetic data."""

from __future__ import annotations

import argparse
from typing import Any

from dbtune.cli.args import (
    DSN_HELP_NO_DEMO,
    EXIT_OK,
    database,
    positive_int,
    shared,
)
from dbtune.reference import seed as seeding
from dbtune.reference.demo import seed_with_progress
from dbtune.results import stderr_console


def run(args: argparse.Namespace) -> int:
    url, _ = database(
        args.dsn, "seed", demo="it is seeded when first used; name the database to fill"
    )
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
    seed = sub.add_parser(
        "seed",
        parents=shared(dsn=DSN_HELP_NO_DEMO),
        help="fill the reference schema with synthetic data",
    )
    seed.add_argument("--messages", type=positive_int, default=seeding.DEFAULT_MESSAGES)
    seed.add_argument("--users", type=positive_int, default=seeding.DEFAULT_USERS)
    seed.add_argument("--seed", type=int, default=seeding.DEFAULT_SEED)
    seed.add_argument(
        "--replace", action="store_true", help="delete every row of the reference tables first"
    )
    seed.set_defaults(func=run)
