"""``dbtune fleet``: many databases or tenant schemas migrated and checked as one.

>>> fleet = targets(FleetTargets(schemas="tenant_%", url=url))
>>> outcomes = upgrade(UpgradeOptions(Path("alembic.ini")), fleet)
>>> groups = doctor(fleet)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dbtune.doctor import DoctorOptions, DoctorReport
from dbtune.doctor.run import run_doctor
from dbtune.errors import DbtuneError, UsageError
from dbtune.explain.runner import run_workload
from dbtune.fleet import targets as fleet_targets
from dbtune.fleet.grouping import Found, Group, grouped, owned
from dbtune.fleet.ledger import Ledger
from dbtune.fleet.status import Status, fleet_status
from dbtune.fleet.targets import Target, parse_shard
from dbtune.fleet.upgrade import DEFAULT_TIMEOUT_S, Chain, Rollout, TargetResult
from dbtune.query.options import PLANS_ONLY
from dbtune.query.result import ExplainReport
from dbtune.workload import Workload

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "Chain",
    "FleetTargets",
    "Group",
    "Status",
    "Target",
    "TargetResult",
    "UpgradeOptions",
    "doctor",
    "explain",
    "interrupted",
    "parse_shard",
    "status",
    "targets",
    "upgrade",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class FleetTargets:
    """Who the fleet is, named exactly one way: a file, a query on ``url``, or the tenant
    schemas of ``url``'s database matching a LIKE pattern."""

    file: Path | None = None
    query: str | None = None
    schemas: str | None = None
    url: str | None = None  # the database the query or the schemas are read from
    shard: tuple[int, int] | None = None  # (k, n): this runner's share of n


def targets(named: FleetTargets) -> list[Target]:
    """The targets, in order (``shard``: this runner's share); a usage error unless exactly
    one way names them."""
    found = _named(named)
    return fleet_targets.shard(found, *named.shard) if named.shard else found


def _named(named: FleetTargets) -> list[Target]:
    if sum(bool(x) for x in (named.file, named.query, named.schemas)) != 1:
        raise UsageError(
            "name the fleet once: --targets FILE, --targets-query SQL --dsn URL, "
            "or --schemas PATTERN --dsn URL"
        )
    if named.file:
        return fleet_targets.from_file(named.file)
    if named.url is None:
        raise UsageError("--targets-query and --schemas read the database --dsn names")
    if named.query:
        return fleet_targets.from_query(named.url, named.query)
    return fleet_targets.tenant_schemas(named.url, named.schemas or "")


@dataclass(frozen=True, slots=True)
class UpgradeOptions:
    ini: Path  # the chain's alembic.ini
    to: str | None = None  # default: the chain's head
    parallel: int = 4  # targets at a time, and connections per server
    timeout_s: float = DEFAULT_TIMEOUT_S  # per target
    continue_on_error: bool = False
    canary: int = 1  # upgraded first; any failure stops the rollout
    ledger: Path | None = None  # each target's start and end appended as they happen
    url_env: str | None = None  # the variable the chain's env.py reads its URL from


def upgrade(
    options: UpgradeOptions,
    fleet: Sequence[Target],
    progress: Callable[[TargetResult], None] = lambda _: None,
) -> tuple[Chain, list[TargetResult]]:
    """Every target to the revision: canaries first, then K at a time per server; a target
    already there is skipped, so a rerun resumes."""
    chain = Chain.load(options.ini, options.to, options.url_env)
    ledger = Ledger(options.ledger) if options.ledger else None
    rollout = Rollout(chain, options.parallel, options.timeout_s, options.continue_on_error,
                      progress=progress, ledger=ledger)  # fmt: skip
    try:
        return chain, rollout.run(fleet, options.canary)
    finally:
        if ledger is not None:
            ledger.close()


def status(ini: Path, fleet: Sequence[Target], to: str | None = None) -> tuple[Chain, Status]:
    """Each target's revision, and drift from the majority's indexes."""
    chain = Chain.load(ini, to)
    return chain, fleet_status(fleet, chain)


def _explain_findings(target: Target, report: ExplainReport) -> list[Found]:
    found: list[Found] = []
    for r in report.results:
        if r.error:
            found.append((target, r.key, r.error))
        found += [(target, f"{r.key} {c.id}", c.message) for c in r.checks if c.status == "fail"]
    return found


def explain(fleet: Sequence[Target], workload: Workload, parallel: int = 4) -> list[Group]:
    """The same workload planned (plans only) on every target, K at a time; the failures
    grouped by kind, each with the targets that have it."""

    def one(target: Target) -> list[Found]:
        try:
            report = run_workload(target.session_url(), workload, PLANS_ONLY)
        except DbtuneError as exc:
            return [(target, "error", exc.message)]
        return _explain_findings(target, report)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return grouped(f for found in pool.map(one, fleet) for f in found)


def doctor(fleet: Sequence[Target], show_all: bool = False) -> list[Group]:
    """Doctor on every database (its tenants read once), each finding given to the tenant
    whose schema it concerns, grouped by kind."""
    found: list[Found] = []
    for url in dict.fromkeys(t.url for t in fleet):
        on_it = [t for t in fleet if t.url == url]
        try:
            report = run_doctor(url, DoctorOptions(show_all=show_all))
        except DbtuneError as exc:
            found += [(t, "error", exc.message) for t in on_it]
            continue
        findings = [
            (scored.schema, scored.finding.subject, outcome.id, scored.finding.message)
            for outcome in report.outcomes
            for scored in outcome.findings
        ]
        found += owned(on_it, findings)
        found += _small(on_it, report)
    return grouped(found)


def _small(on_it: Sequence[Target], report: DoctorReport) -> list[Found]:
    """What doctor counts without listing (findings on small objects): a database's own
    line, so fleet doctor fails where doctor does. A tenant's are not told apart from its
    neighbours' by the count: said once, on the database's first tenant."""
    first = on_it[0]
    where = " (the database's tenants together)" if first.schema else ""
    return [
        (first, o.id, f"{o.small} finding(s) on small objects{where}: doctor --all lists them")
        for o in report.outcomes
        if o.small
    ]


def interrupted(ledger: Path) -> list[str]:
    """The targets a killed run left mid-upgrade, by its ledger (none without one)."""
    return Ledger(ledger).interrupted() if ledger.exists() else []
