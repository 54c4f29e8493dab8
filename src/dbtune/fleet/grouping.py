"""Findings of many targets, grouped: each kind of finding once, with the targets that have it.

A tenant's own schema name is taken out of the text first (``tenant_07.items`` reads as
``<schema>.items``), so fifty tenants with the same missing index make one line, not fifty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from dbtune.fleet.targets import Target


@dataclass(frozen=True, slots=True)
class Group:
    kind: str
    text: str
    targets: tuple[str, ...]


def _general(text: str, schema: str | None) -> str:
    if not schema:
        return text
    return re.sub(rf'(?<![\w"]){re.escape(schema)}(?=\.)|"{re.escape(schema)}"(?=\.)',
                  "<schema>", text)  # fmt: skip


def grouped(found: Iterable[tuple[Target, str, str]]) -> list[Group]:
    """``(target, kind, text)`` -> one group per kind and text, targets in the order seen;
    the groups most targets share first."""
    groups: dict[tuple[str, str], list[str]] = {}
    for target, kind, text in found:
        names = groups.setdefault((kind, _general(text, target.schema)), [])
        if target.name not in names:
            names.append(target.name)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [Group(kind, text, tuple(names)) for (kind, text), names in ordered]


def tenant_of(subject: str, targets: Sequence[Target]) -> Target | None:
    """The tenant whose schema a finding's subject (``schema.table``) names."""
    head = subject.split(".", 1)[0].strip('"')
    return next((t for t in targets if t.schema == head), None)


Found = tuple[Target, str, str]
"""One finding on one target: (target, kind, text)."""


def owned(
    on_database: Sequence[Target], findings: Iterable[tuple[str | None, str, str, str]]
) -> Iterator[Found]:
    """Doctor's findings on one database, ``(schema, subject, kind, text)``, each given to the
    target it concerns: the database itself, or the tenant whose schema it names (a finding
    outside every tenant's schema is nobody's)."""
    first = on_database[0]
    for schema, subject, kind, text in findings:
        owner: Target | None = first
        if first.schema:
            owner = next((t for t in on_database if t.schema == schema), None) or tenant_of(
                subject, on_database
            )
        if owner is not None:
            yield owner, kind, text
