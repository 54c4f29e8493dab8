"""Alembic revisions from an explain report: one per accepted suggestion, online both ways.

Accepted means a what-if showed the query passing every expectation with the index
(``--unverified`` also takes suggestions no what-if ran for; one a what-if showed failing is
never written). Suggestions on one table whose keys share a prefix become one index: the
longest key, the union of their INCLUDE lists, one revision naming every query it serves. Each
revision uses ``create_index_online`` and ``drop_index_online``, names the queries, the
before/after figures and the commands that produced it in its docstring, and revises the
current head of the target chain, so the revisions line up one after another. It is ruff
clean under the project's configuration and under none (code lines fit 88 columns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbtune.errors import UsageError
from dbtune.files import json_file
from dbtune.migrations.chain import current_head
from dbtune.migrations.revision_file import LINE, RevisionFile, new_revision_id
from dbtune.query.advice import Suggestion, merge
from dbtune.sql.helper_calls import wrapped


@dataclass(frozen=True, slots=True)
class Served:
    """One query a suggestion serves, with what the docstring tells a reviewer."""

    query: str
    sql: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """One index to write: a suggestion from the report, or several merged into one."""

    suggestion: Suggestion
    served: tuple[Served, ...]


def _figures(measure: Mapping[str, Any] | None) -> str:
    if not measure:
        return "not measured"
    text = f"cost {measure.get('cost', 0):,.2f}"
    if measure.get("time_ms") is not None:
        text += f", {measure['time_ms']:.3f} ms"
    if measure.get("buffers") is not None:
        text += f", {measure['buffers']:,} buffers"
    failing = measure.get("failing") or []
    text += f"; fails {', '.join(failing)}" if failing else "; every expectation passes"
    return f"{text}\n  plan: {measure.get('plan', '?')}"


def _suggestion(data: Mapping[str, Any]) -> Suggestion:
    return Suggestion(
        str(data["schema"]),
        str(data["table"]),
        str(data["name"]),
        tuple(str(c) for c in data["columns"]),
        tuple(str(c) for c in data.get("include") or ()),
        data.get("where"),
        str(data.get("reason", "")),
        bool(data.get("allow_wide", False)),
    )


def accepted(report: Mapping[str, Any], *, unverified: bool = False) -> list[Accepted]:
    """The suggestions of an explain JSON report worth a revision, without repeats."""
    found: list[Accepted] = []
    for query in report.get("queries") or ():
        advice = query.get("advice") or {}
        data = advice.get("suggestion")
        what_if = advice.get("what_if")
        if not data or (what_if is None and not unverified):
            continue
        if what_if is not None and not what_if.get("passes"):
            continue
        measured = what_if or {}
        served = Served(
            f"{query.get('name')}[{query.get('profile')}]",
            str(query.get("sql", "")),
            _figures(measured.get("before")),
            (f"({measured.get('engine')}) " if measured else "") + _figures(measured.get("after")),
        )
        found.append(Accepted(_suggestion(data), (served,)))
    return merged(found)


def merged(found: Sequence[Accepted]) -> list[Accepted]:
    """One index per table and shared key prefix: the longest key serves every lookup of the
    shorter ones, and its INCLUDE list is the union of theirs, so two queries never get two
    revisions (nor two indexes) for one index."""
    kept: list[Accepted] = []
    for item in sorted(found, key=lambda a: -len(a.suggestion.columns)):  # stable: report order
        for i, other in enumerate(kept):
            both = merge(other.suggestion, item.suggestion)
            if both is not None:
                served = (*other.served, *(q for q in item.served if q not in other.served))
                kept[i] = Accepted(both, served)
                break
        else:
            kept.append(item)
    return kept


def load_report(path: Path) -> dict[str, Any]:
    data = json_file.load(
        path, "write it with `dbtune explain --what-if --format json > REPORT.json`"
    )
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list):
        raise UsageError(f"{path} is not a dbtune explain JSON report (no 'queries' list)")
    return data


def _docstring(item: Accepted, command: str) -> str:
    s = item.suggestion
    queries = ", ".join(q.query for q in item.served)
    parts = [
        f"Index {s.name} on {s.schema}.{s.table}, for {queries}.",
        "",
        "Suggested by dbtune's advisor from a failing plan:",
        s.reason,
    ]
    if len(item.served) > 1:
        parts += [
            "",
            "One index for these queries: the suggestions' keys share a prefix, so the longest "
            "key serves each of them, with the union of their INCLUDE lists.",
        ]
    for served in item.served:
        parts += [
            "",
            f"Query {served.query}:",
            *(f"    {line}" for line in served.sql.strip().splitlines()),
            f"Before: {served.before}",
            f"After: {served.after}",
        ]
    parts += ["", "Produced by:", f"    {command}"]
    # The opening quotes share the first line; ruff's E501 counts them.
    text = "\n".join(wrapped(parts, LINE - 3))
    return text


def revision_file(item: Accepted, revision: str, down: str | None, command: str) -> RevisionFile:
    s = item.suggestion
    create = s.helper_call()
    undo = [create.undo] if create.undo is not None else []
    return RevisionFile(revision, down, _docstring(item, command), [("", [create])], [("", undo)])


def revision_text(item: Accepted, revision: str, down: str | None, command: str) -> str:
    return revision_file(item, revision, down, command).text()


def write_revisions(
    report: Mapping[str, Any], versions: Path, command: str, *, unverified: bool = False
) -> list[Path]:
    """One revision file per accepted suggestion, chained on the current head."""
    items = accepted(report, unverified=unverified)
    down = current_head(versions)
    written = []
    for item in items:
        made = revision_file(item, new_revision_id(), down, command)
        # The whole index name (63 bytes at most): a file name cut mid-word names nothing.
        slug = "".join(c if c.isalnum() else "_" for c in item.suggestion.name.lower())
        written.append(made.write(versions, slug))
        down = made.revision
    return written
