"""Alembic revisions from an explain report: one per accepted suggestion, online both ways.

Accepted means a what-if showed the query passing every expectation with the index
(``--unverified`` also takes suggestions no what-if ran for; one a what-if showed failing is
never written). A suggestion whose key starts another accepted suggestion's on the same table
is dropped: the longer index serves both queries. Each revision uses ``create_index_online``
and ``drop_index_online``, names the query, the before/after figures and the commands that
produced it in its docstring, and revises the current head of the target chain, so the
revisions line up one after another.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbtune.advice import Suggestion
from dbtune.errors import UsageError
from dbtune.migrations.chain import current_head

LINE = 96


@dataclass(frozen=True, slots=True)
class Accepted:
    """A suggestion from the report, with what the docstring tells a reviewer."""

    suggestion: Suggestion
    query: str
    sql: str
    before: str
    after: str


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
        found.append(
            Accepted(
                _suggestion(data),
                f"{query.get('name')}[{query.get('profile')}]",
                str(query.get("sql", "")),
                _figures(measured.get("before")),
                (f"({measured.get('engine')}) " if measured else "")
                + _figures(measured.get("after")),
            )
        )
    return _without_served(found)


def _serves(big: Suggestion, small: Suggestion) -> bool:
    """``big`` answers every lookup ``small`` would: same table, ``small``'s key leading it."""
    return (
        (big.schema, big.table) == (small.schema, small.table)
        and len(big.columns) > len(small.columns)
        and big.columns[: len(small.columns)] == small.columns
        and not small.include
        and not small.where
    )


def _without_served(found: Sequence[Accepted]) -> list[Accepted]:
    """Drop repeats (the same index for several queries) and a plain index whose key leads
    another accepted one on the same table."""
    kept: list[Accepted] = []
    seen: set[tuple[Any, ...]] = set()
    for item in found:
        s = item.suggestion
        key = (s.schema, s.table, s.columns, s.include, s.where)
        if key in seen or any(_serves(o.suggestion, s) for o in found):
            continue
        seen.add(key)
        kept.append(item)
    return kept


def load_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not JSON ({exc.msg} at line {exc.lineno}); write it with "
            "`dbtune explain --what-if --format json > REPORT.json`"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list):
        raise UsageError(f"{path} is not a dbtune explain JSON report (no 'queries' list)")
    return data


def _docstring(item: Accepted, command: str) -> str:
    s = item.suggestion
    sql_lines = [
        line for raw in item.sql.strip().splitlines()
        for line in textwrap.wrap(raw, LINE - 4) or [""]
    ]  # fmt: skip
    parts = [
        f"Index {s.name} on {s.schema}.{s.table}, for {item.query}.",
        "",
        "Suggested by dbtune's advisor from a failing plan:",
        *textwrap.wrap(s.reason, LINE, break_on_hyphens=False),
        "",
        "Query:",
        *(f"    {line}" for line in sql_lines),
        "",
        f"Before: {item.before}",
        f"After: {item.after}",
        "",
        "Produced by:",
        *textwrap.wrap(
            command,
            LINE,
            initial_indent="    ",
            subsequent_indent="    ",
            break_on_hyphens=False,
            break_long_words=False,
        ),
    ]
    return "\n".join(parts).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _py(value: object) -> str:
    """A Python literal in the double quotes ruff format keeps (JSON's escapes are Python's)."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    return "None" if value is None else json.dumps(value, ensure_ascii=False)


def _call(name: str, args: Sequence[str]) -> str:
    one_line = f"    {name}({', '.join(args)})"
    if len(one_line) <= LINE:
        return one_line
    inner = "".join(f"        {a},\n" for a in args)
    return f"    {name}(\n{inner}    )"


def revision_text(item: Accepted, revision: str, down: str | None, command: str) -> str:
    s = item.suggestion
    create = [_py(s.name), _py(s.table), _py(s.columns)]
    if s.include:
        create.append(f"include={_py(s.include)}")
    if s.where:
        create.append(f"where={_py(s.where)}")
    create.append(f"schema={_py(s.schema)}")
    drop = [_py(s.name), _py(s.table), f"schema={_py(s.schema)}"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f'''"""{_docstring(item, command)}

Revision ID: {revision}
Revises:{" " + down if down else ""}
Create Date: {now}
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtune.migrations import create_index_online, drop_index_online

revision: str = {_py(revision)}
down_revision: str | Sequence[str] | None = {_py(down)}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
{_call("create_index_online", create)}


def downgrade() -> None:
{_call("drop_index_online", drop)}
'''


def write_revisions(
    report: Mapping[str, Any], versions: Path, command: str, *, unverified: bool = False
) -> list[Path]:
    """One revision file per accepted suggestion, chained on the current head."""
    items = accepted(report, unverified=unverified)
    down = current_head(versions)
    written = []
    for item in items:
        revision = uuid.uuid4().hex[:12]
        stamp = datetime.now(UTC).strftime("%Y_%m_%d")
        slug = "".join(c if c.isalnum() else "_" for c in item.suggestion.name.lower())[:40]
        path = versions / f"{stamp}_{revision}_{slug}.py"
        path.write_text(revision_text(item, revision, down, command))
        written.append(path)
        down = revision
    return written
