"""Who is where: each target's revision, and drift from the fleet's majority.

Drift is judged index by index: the definition each target has for an index name (built
from its keys as the catalog holds them by OID, without the schema, so tenants compare
alike), against the definition most targets have. A target lacking an index most have,
having one most lack, or holding another definition is listed, and so is every INVALID index
(a build that failed half-way). Grouped by finding, with the targets that have it, not
repeated per target.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from dbtune.catalog import IndexInfo, psycopg_runner, read_indexes
from dbtune.db import connect
from dbtune.errors import DbtuneError, first_line
from dbtune.fleet.targets import Target
from dbtune.fleet.upgrade import Chain, current


@dataclass
class Status:
    revisions: dict[str, str | None] = field(default_factory=dict)  # target -> revision
    errors: dict[str, str] = field(default_factory=dict)  # target -> why it was not read
    drift: dict[str, list[str]] = field(default_factory=dict)  # finding -> targets

    def to_dict(self, chain: Chain) -> dict[str, Any]:
        return {
            "head": chain.head,
            "targets": [
                {"target": t, "revision": r, "at_head": r == chain.head}
                for t, r in self.revisions.items()
            ],
            "errors": self.errors,
            "drift": [{"finding": f, "targets": ts} for f, ts in self.drift.items()],
        }


def _indexes(target: Target) -> dict[str, tuple[str, bool]]:
    """Each index of the target (its tenant schema's only): its definition built from its
    keys without the schema, so tenants compare alike, and whether it is valid."""
    with connect(target.url, autocommit=True) as conn:
        found = read_indexes(psycopg_runner(conn), schema=target.schema)
    return {i.name: (_definition(i), i.valid) for i in found}


def _definition(index: IndexInfo) -> str:
    if index.locked:  # its table is being changed: its keys were not read
        return "(not read: its table is locked)"
    return index.spec().sql()


def fleet_status(targets: Sequence[Target], chain: Chain) -> Status:
    """Each target's revision and indexes read (one that cannot be read is listed with why),
    then the drift between them."""
    status = Status()
    by_target: dict[str, dict[str, tuple[str, bool]]] = {}
    for target in targets:
        try:
            status.revisions[target.name] = current(target, chain.version_table)
            by_target[target.name] = _indexes(target)
        except (psycopg.Error, DbtuneError) as exc:
            status.errors[target.name] = first_line(exc)
    status.drift = drift(by_target)
    return status


def drift(by_target: Mapping[str, Mapping[str, tuple[str, bool]]]) -> dict[str, list[str]]:
    """Finding -> targets, from each target's indexes (name -> (definition, valid)): an
    INVALID index, and a definition (or absence) the majority does not share."""
    found: dict[str, list[str]] = defaultdict(list)
    names = {n for indexes in by_target.values() for n in indexes}
    for name in sorted(names):
        have = {t: indexes.get(name) for t, indexes in by_target.items()}
        majority, count = Counter(d[0] if d else None for d in have.values()).most_common(1)[0]
        for who, entry in have.items():
            if entry is not None and not entry[1]:
                invalid = f"INVALID index {name}: a build that failed half-way (drop it, rebuild)"
                found[invalid].append(who)
            definition = entry[0] if entry else None
            if definition == majority or count == len(have):
                continue
            if definition is None:
                found[f"missing index {name} (most have: {majority})"].append(who)
            elif majority is None:
                found[f"extra index {name}: {definition}"].append(who)
            else:
                found[f"index {name} differs: {definition} (most have: {majority})"].append(who)
    return dict(found)
