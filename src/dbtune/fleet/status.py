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
from dbtune.fleet.upgrade import Chain, versions


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


def _indexes(url: str, on_it: Sequence[Target]) -> dict[str, dict[str, tuple[str, bool]]]:
    """Each target's indexes (a tenant's: its schema's only), one catalog read per database:
    a definition built from the keys without the schema, so tenants compare alike, and
    whether it is valid."""
    with connect(url, autocommit=True) as conn:
        schema = on_it[0].schema if len(on_it) == 1 else None
        found = read_indexes(psycopg_runner(conn), schema=schema)
    return {
        t.name: {i.name: (_definition(i), i.valid) for i in found if t.schema in (None, i.schema)}
        for t in on_it
    }


def _definition(index: IndexInfo) -> str:
    if index.locked:  # its table is being changed: its keys were not read
        return "(not read: its table is locked)"
    return index.spec().sql()


def fleet_status(targets: Sequence[Target], chain: Chain) -> Status:
    """Each target's revision and indexes read, a database's tenants together (one that
    cannot be read is listed with why), then the drift between them."""
    status = Status()
    for name, revision in versions(targets, chain.version_table).items():
        if isinstance(revision, DbtuneError):
            status.errors[name] = first_line(revision)
        else:
            status.revisions[name] = revision
    by_target: dict[str, dict[str, tuple[str, bool]]] = {}
    for url in dict.fromkeys(t.url for t in targets):
        on_it = [t for t in targets if t.url == url and t.name not in status.errors]
        if not on_it:
            continue
        try:
            by_target |= _indexes(url, on_it)
        except (psycopg.Error, DbtuneError) as exc:
            status.errors |= {t.name: first_line(exc) for t in on_it}
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
