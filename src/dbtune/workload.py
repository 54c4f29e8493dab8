"""The hot-query catalogue: which queries matter, how to pick their parameters, what to expect.

A workload is a TOML file so that users can keep their own beside their service and review it
like code. Parsing is strict (an unknown key is an error, not a silently ignored typo), because
a misspelt expectation would make a check pass that should have run.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dbtune.errors import UsageError

SHIPPED_WORKLOAD = "reference.toml"

_QUERY_KEYS = {"name", "description", "sql", "params", "expect"}
_EXPECT_KEYS = {"index", "no_sort"}


@dataclass(frozen=True, slots=True)
class Expectations:
    """What a hot query's plan must show; None/False means "not checked"."""

    index: str | None = None
    no_sort: bool = False


@dataclass(frozen=True, slots=True)
class ParamPicker:
    """A parameter value: a literal, or the first column of the first row of a query."""

    literal: Any = None
    sql: str | None = None


@dataclass(frozen=True, slots=True)
class HotQuery:
    name: str
    sql: str
    description: str = ""
    params: Mapping[str, ParamPicker] = field(default_factory=dict)
    expect: Expectations = field(default_factory=Expectations)


@dataclass(frozen=True, slots=True)
class Workload:
    source: str
    queries: tuple[HotQuery, ...]


def _fail(source: str, where: str, problem: str) -> UsageError:
    return UsageError(f"{source}: {where}: {problem}")


def _picker(source: str, where: str, value: Any) -> ParamPicker:
    if isinstance(value, Mapping):
        unknown = set(value) - {"sql"}
        if unknown or not isinstance(value.get("sql"), str):
            raise _fail(source, where, "a picker is a table with exactly one string key, sql")
        return ParamPicker(sql=value["sql"])
    return ParamPicker(literal=value)


def _expectations(source: str, where: str, value: Any) -> Expectations:
    if not isinstance(value, Mapping):
        raise _fail(source, where, "expect must be a table")
    unknown = sorted(set(value) - _EXPECT_KEYS)
    if unknown:
        raise _fail(
            source,
            f"{where}.{unknown[0]}",
            f"unknown key; known: {', '.join(sorted(_EXPECT_KEYS))}",
        )
    index = value.get("index")
    if index is not None and not isinstance(index, str):
        raise _fail(source, f"{where}.index", "must be an index name (a string)")
    no_sort = value.get("no_sort", False)
    if not isinstance(no_sort, bool):
        raise _fail(source, f"{where}.no_sort", "must be true or false")
    return Expectations(index=index, no_sort=no_sort)


def _query(source: str, position: int, data: Any) -> HotQuery:
    where = f"query[{position}]"
    if not isinstance(data, Mapping):
        raise _fail(source, where, "must be a table")
    if isinstance(data.get("name"), str):
        where = f"query[{position}] ({data['name']})"
    unknown = sorted(set(data) - _QUERY_KEYS)
    if unknown:
        raise _fail(
            source,
            f"{where}.{unknown[0]}",
            f"unknown key; known: {', '.join(sorted(_QUERY_KEYS))}",
        )
    for key in ("name", "sql"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise _fail(source, f"{where}.{key}", "is required and must be a non-empty string")
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise _fail(source, f"{where}.params", "must be a table")
    return HotQuery(
        name=data["name"],
        sql=data["sql"].strip(),
        description=str(data.get("description", "")),
        params={k: _picker(source, f"{where}.params.{k}", v) for k, v in params.items()},
        expect=_expectations(source, f"{where}.expect", data.get("expect", {})),
    )


def parse_workload(text: str, source: str = "<workload>") -> Workload:
    """Parse a workload document; every error names the source and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"query"})
    if unknown:
        raise _fail(source, unknown[0], "unknown top-level key; queries go in [[query]] tables")
    queries = data.get("query")
    if not isinstance(queries, list) or not queries:
        raise _fail(source, "query", "a workload needs at least one [[query]] table")
    parsed = tuple(_query(source, i, q) for i, q in enumerate(queries))
    names = [q.name for q in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _fail(source, "query", f"duplicate name {duplicates[0]!r}")
    return Workload(source=source, queries=parsed)


def load_workload(path: str | Path | None = None) -> Workload:
    """The workload at ``path``, or the one shipped for the reference schema."""
    if path is None:
        text = resources.files("dbtune.workloads").joinpath(SHIPPED_WORKLOAD).read_text("utf-8")
        return parse_workload(text, f"<shipped {SHIPPED_WORKLOAD}>")
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read workload file {file}: {exc.strerror}") from None
    return parse_workload(text, str(file))
