"""The hot-query catalogue: which queries matter, how to pick their parameters, what to expect.

A workload is a TOML file so that users keep their own beside their service and review it like
code. Parsing is strict — an unknown key is an error, not a silently ignored typo — because a
misspelt expectation would let a check pass that should have run. Errors name the file, the
line (found by searching the text, since ``tomllib`` keeps no positions) and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from dbtune.errors import UsageError
from dbtune.sql.text import Access, SqlTextError, StatementInfo, analyse

SHIPPED_WORKLOAD = "reference.toml"
DEFAULT_PROFILE = "default"

_QUERY_KEYS = {"name", "description", "sql", "params", "expect", "profiles", "captured"}


def _key(types: tuple[type, ...], example: str, *, fraction: bool = False) -> dict[str, Any]:
    """What a workload key accepts, and how its documentation shows it."""
    return {"types": types, "example": example, "fraction": fraction}


@dataclass(frozen=True, slots=True)
class Expectations:
    """What a hot query's plan must show; None/False means "not checked".

    ``no_seq_scan`` None means "on for tables above the row threshold". This class is the one
    list of workload ``expect`` keys: their types and examples (field metadata) drive the
    workload parser, ``assert_plan``'s keywords and each check's documentation page.
    """

    index: str | None = field(default=None, metadata=_key((str,), '"ix_name"'))
    index_only: bool = field(default=False, metadata=_key((bool,), "true"))
    max_heap_fetches: int | None = field(default=None, metadata=_key((int,), "0"))
    no_sort: bool = field(default=False, metadata=_key((bool,), "true"))
    no_seq_scan: bool | None = field(default=None, metadata=_key((bool,), "true|false"))
    max_filter_ratio: float | None = field(
        default=None, metadata=_key((int, float), "0.1", fraction=True)
    )
    max_buffers: int | None = field(default=None, metadata=_key((int,), "50"))
    generic_plan: bool = field(default=False, metadata=_key((bool,), "true"))
    strict: bool = field(default=False, metadata=_key((bool,), "true"))
    """A failure stays a failure even where no index helps (otherwise it is *accepted*)."""

    @classmethod
    def keys(cls) -> dict[str, Mapping[str, Any]]:
        """Each key's metadata: ``types``, ``example``, ``fraction``."""
        return {f.name: f.metadata for f in fields(cls)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Expectations:
        """Validated expectations; :class:`ValueError` names the first bad key and why."""
        for key, value in values.items():
            problem = expectation_problem(key, value)
            if problem is not None:
                raise ValueError(f"{key}: {problem}")
        return cls(**values)


def expectation_problem(key: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for the ``expect`` key ``key``, or None."""
    meta = Expectations.keys().get(key)
    if meta is None:
        return f"unknown key; known: {', '.join(sorted(Expectations.keys()))}"
    types = meta["types"]
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        return f"must be {' or '.join(t.__name__ for t in types)}, got {value!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            return "must not be negative"
        if meta["fraction"] and value > 1:
            return f"is a fraction of the rows read, from 0 to 1 (0.5 = half), got {value!r}"
    return None


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
    profiles: Mapping[str, Mapping[str, ParamPicker]] = field(default_factory=dict)
    dollar_parameters: int = 0
    """``$1 .. $n`` in the SQL (pg_stat_statements' form): no values, so the generic plan is
    what gets checked."""
    captured: Mapping[str, Any] = field(default_factory=dict)
    """What ``dbtune workload capture`` recorded: fingerprint, calls, the baseline keys."""

    @property
    def generic_only(self) -> bool:
        return self.dollar_parameters > 0

    def profile_params(self) -> dict[str, dict[str, ParamPicker]]:
        """Each profile's parameters (the query's own, overridden by the profile's)."""
        if not self.profiles:
            return {DEFAULT_PROFILE: dict(self.params)}
        return {name: {**self.params, **own} for name, own in self.profiles.items()}

    def each_profile(self) -> list[QueryProfile]:
        """The query once per profile: what is planned, measured or run."""
        return [
            QueryProfile(self, name, pickers) for name, pickers in self.profile_params().items()
        ]


def profile_key(query: str, profile: str) -> str:
    """``name[profile]``: how every report names one query with one profile's values."""
    return f"{query}[{profile}]"


@dataclass(frozen=True, slots=True)
class QueryProfile:
    """One query of the workload with one profile's parameters: the unit explain plans, the
    design measures and ``pool tune`` runs."""

    query: HotQuery
    profile: str
    pickers: Mapping[str, ParamPicker]

    @property
    def key(self) -> str:
        """``name[profile]``: how every report names it."""
        return profile_key(self.query.name, self.profile)

    @property
    def weight(self) -> float:
        """How often it runs, relative to the others: its captured calls, else 1."""
        return float((self.query.captured or {}).get("calls", 1) or 1)

    def tables(self) -> frozenset[str]:
        """The (unqualified) names of the tables it reads."""
        try:
            return frozenset(r.name for r in analyse(self.query.sql).relations)
        except SqlTextError:
            return frozenset()


@dataclass(frozen=True, slots=True)
class Workload:
    source: str
    queries: tuple[HotQuery, ...]

    def profiles(self) -> list[QueryProfile]:
        return [p for query in self.queries for p in query.each_profile()]


class _Locator:
    """Finds the line of a key in the workload text, for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [
            i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*query\s*\]\]", line)
        ]

    def line(self, position: int | None, key: str) -> int | None:
        start, end = 0, len(self.lines)
        if position is not None and position < len(self.headers):
            start = self.headers[position]
            if position + 1 < len(self.headers):
                end = self.headers[position + 1]
        leaf = key.split(".")[-1]
        for pattern in (re.escape(key), rf"(^|[\s.\"']){re.escape(leaf)}\s*="):
            for i in range(start, end):
                if re.search(pattern, self.lines[i]):
                    return i + 1
        return start + 1 if position is not None and self.headers else None


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.where = _Locator(text)

    def fail(self, position: int | None, key: str, problem: str) -> UsageError:
        line = self.where.line(position, key)
        at = f"{self.source}:{line}" if line else self.source
        return UsageError(f"{at}: {key}: {problem}")

    def picker(self, position: int, key: str, value: Any) -> ParamPicker:
        if isinstance(value, Mapping):
            if set(value) != {"sql"} or not isinstance(value["sql"], str):
                raise self.fail(
                    position, key, "a picker is a table with exactly one string key, sql"
                )
            try:
                info = analyse(value["sql"])
            except SqlTextError as exc:
                raise self.fail(position, key, f"picker sql: {exc}") from None
            if info.access is not Access.READ:
                raise self.fail(
                    position, key, f"a picker must be a plain SELECT; this is a {info.access.value}"
                )
            return ParamPicker(sql=value["sql"])
        return ParamPicker(literal=value)

    def params(self, position: int, key: str, value: Any) -> dict[str, ParamPicker]:
        if not isinstance(value, Mapping):
            raise self.fail(position, key, "must be a table of parameter = value or {sql = ...}")
        return {k: self.picker(position, f"{key}.{k}", v) for k, v in value.items()}

    def expectations(self, position: int, prefix: str, value: Any) -> Expectations:
        if not isinstance(value, Mapping):
            raise self.fail(position, f"{prefix}.expect", "must be a table")
        for key, item in value.items():
            problem = expectation_problem(key, item)
            if problem is not None:
                raise self.fail(position, f"{prefix}.expect.{key}", problem)
        return Expectations(**value)

    def query(self, position: int, data: Any) -> HotQuery:
        prefix = f"query[{position}]"
        if not isinstance(data, Mapping):
            raise self.fail(position, prefix, "must be a table")
        if isinstance(data.get("name"), str):
            prefix = f"query[{position}] ({data['name']})"
        info = self._statement(position, prefix, data)
        profiles = data.get("profiles", {})
        if not isinstance(profiles, Mapping):
            raise self.fail(position, f"{prefix}.profiles", "must be a table of profiles")
        if info.dollar_parameters and (data.get("params") or profiles):
            raise self.fail(
                position,
                f"{prefix}.params",
                "a query with $n placeholders is checked as a generic plan and takes no "
                "params; write %(name)s placeholders to give values",
            )
        captured = data.get("captured", {})
        if not isinstance(captured, Mapping):
            raise self.fail(position, f"{prefix}.captured", "must be a table")
        return HotQuery(
            name=data["name"],
            sql=data["sql"].strip(),
            description=str(data.get("description", "")),
            params=self.params(position, f"{prefix}.params", data.get("params", {})),
            expect=self.expectations(position, prefix, data.get("expect", {})),
            profiles={
                name: self.params(position, f"{prefix}.profiles.{name}", value)
                for name, value in profiles.items()
            },
            dollar_parameters=info.dollar_parameters,
            captured=captured,
        )

    def _statement(self, position: int, prefix: str, data: Mapping[str, Any]) -> StatementInfo:
        """The query's keys known, its name and SQL given, the SQL one query statement."""
        unknown = sorted(set(data) - _QUERY_KEYS)
        if unknown:
            raise self.fail(
                position,
                f"{prefix}.{unknown[0]}",
                f"unknown key; known: {', '.join(sorted(_QUERY_KEYS))}",
            )
        for key in ("name", "sql"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise self.fail(
                    position, f"{prefix}.{key}", "is required and must be a non-empty string"
                )
        try:
            info = analyse(data["sql"])
        except SqlTextError as exc:
            raise self.fail(position, f"{prefix}.sql", str(exc)) from None
        if info.access is Access.OTHER:
            raise self.fail(
                position,
                f"{prefix}.sql",
                f"a {info.kind} is not a query: a workload holds SELECT, INSERT, UPDATE, "
                "DELETE or MERGE statements",
            )
        return info


def parse_workload(text: str, source: str = "<workload>") -> Workload:
    """Parse a workload document; every error names the source, the line and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    parser = _Parser(text, source)
    unknown = sorted(set(data) - {"query"})
    if unknown:
        raise parser.fail(None, unknown[0], "unknown top-level key; queries go in [[query]] tables")
    queries = data.get("query")
    if not isinstance(queries, list) or not queries:
        raise parser.fail(None, "query", "a workload needs at least one [[query]] table")
    parsed = tuple(parser.query(i, q) for i, q in enumerate(queries))
    seen: set[str] = set()
    for i, query in enumerate(parsed):
        if query.name in seen:
            raise parser.fail(i, "name", f"duplicate query name {query.name!r}")
        seen.add(query.name)
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
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"workload file {file} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None
    return parse_workload(text, str(file))
