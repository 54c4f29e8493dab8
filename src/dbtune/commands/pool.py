"""``dbtune pool`` and ``dbtune pool tune``: the recommended size, checked against the server,
and measured on the workload.

>>> facts = recommend(url, instances=4)
>>> tuned = tune(TuneOptions(url, workload, driver="asyncpg"))
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbtune.bench import machine, pool_tune
from dbtune.bench.plots import pool_tune_plot, require_matplotlib
from dbtune.bench.pool_tune import DRIVERS, Mix, Sweep
from dbtune.db import connect
from dbtune.errors import UsageError
from dbtune.pool.budget import ServerBudget, server_budget
from dbtune.pool.sizing import instances_check, pool_size
from dbtune.workload import Workload

__all__ = ["DRIVERS", "TuneOptions", "Tuned", "recommend", "require_matplotlib", "tune"]


def recommend(url: str | None, instances: int = 1) -> tuple[dict[str, Any], ServerBudget | None]:
    """The recommended size for this machine, and, with a server, its connection budget
    shared by ``instances`` processes."""
    budget = server_budget(url) if url else None
    return instances_check(instances, budget), budget


@dataclass(frozen=True, slots=True)
class TuneOptions:
    """What ``dbtune pool tune`` takes: the database, the workload's reads and the sweep."""

    url: str
    workload: Workload
    driver: str = "psycopg"  # one of DRIVERS
    clients: int = 64
    seconds: float = 3.0  # per size and pass
    passes: int = 2
    sizes: Sequence[int] = ()  # () : powers of two, 2 x CPU + 5, within the server's budget


@dataclass(frozen=True, slots=True)
class Tuned:
    mix: Mix
    sweep: Sweep
    server_version: int

    def markdown(self, command: str) -> str:
        described = machine.describe(self.server_version)
        return pool_tune.render_markdown(self.sweep, self.mix, command=command, machine=described)

    def to_json(self) -> dict[str, Any]:
        return pool_tune.as_json(self.sweep, self.mix)

    def plot(self, path: Path) -> None:
        pool_tune_plot(self.sweep, path)


def tune(options: TuneOptions, progress: Callable[[str], None] = lambda _: None) -> Tuned:
    """Throughput and p95 per ``max_size`` with the workload's reads (read-only connections:
    the database is not changed)."""
    mix = pool_tune.build_mix(options.url, options.workload)
    if not mix.calls:
        raise UsageError(
            f"no query of {options.workload.source} can run: "
            + "; ".join(mix.skipped or ["the workload is empty"])
        )
    recommended = pool_size().max_size
    sizes = sorted(set(options.sizes)) or pool_tune.sizes_to_try(
        recommended, options.clients, server_budget(options.url).available
    )
    plan = pool_tune.SweepPlan(
        options.driver, sizes, options.clients, options.seconds, options.passes, recommended
    )
    result = asyncio.run(pool_tune.sweep(options.url, mix.calls, plan, progress))
    with connect(options.url) as conn:
        version = conn.info.server_version
    return Tuned(mix, result, version)
