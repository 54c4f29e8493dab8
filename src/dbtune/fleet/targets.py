"""Who the fleet is: databases (a file of DSNs, TOML with names and groups, or a query that
returns them) or tenant schemas of one database (``--schemas PATTERN``).

A schema-per-tenant target is the database's URL and a schema: its revisions run with that
schema first on the ``search_path`` and its ``alembic_version`` inside it
(``version_table_schema``), one version table per tenant.
"""

from __future__ import annotations

import tomllib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dbtune.db import connect
from dbtune.db.dsn import describe
from dbtune.errors import UsageError
from dbtune.sql.identifiers import ident


def search_path_option(schema: str) -> str:
    """``-csearch_path=...`` for libpq's ``options``/``PGOPTIONS``: the schema quoted as SQL
    quotes a name (capitals, quotes, non-ASCII kept), then spaces and backslashes escaped as
    libpq splits the option string."""
    quoted = ident(schema).as_string()
    return "-csearch_path=" + quoted.replace("\\", "\\\\").replace(" ", "\\ ")


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str
    schema: str | None = None  # a tenant schema of ``url``'s database
    group: str | None = None

    def session_url(self) -> str:
        """The URL a session of this target uses: a tenant's schema first on its search_path."""
        if not self.schema:
            return self.url
        return make_conninfo(self.url, options=search_path_option(self.schema))

    def server(self) -> tuple[str, str]:
        """Host and port: the connection budget is per server."""
        params = conninfo_to_dict(self.url)
        return (str(params.get("host") or "local"), str(params.get("port") or "5432"))


def from_file(path: Path) -> list[Target]:
    """One DSN per line (``#`` comments), or TOML: ``[[target]]`` with ``dsn``, ``name`` and
    ``group``."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the targets file {path}: {exc.strerror}") from None
    if path.suffix == ".toml":
        return _from_toml(path, text)
    targets = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            targets.append(Target(_name(line, number), line))
    if not targets:
        raise UsageError(f"{path} names no target (one DSN per line)")
    return _unique(targets)


def _name(url: str, number: int) -> str:
    try:
        return describe(url)
    except Exception:  # a malformed line: named by its place, reported when connecting
        return f"line {number}"


def _from_toml(path: Path, text: str) -> list[Target]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not TOML: {exc}") from None
    entries = data.get("target")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f'{path} has no [[target]] (each with a "dsn")')
    targets = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("dsn"), str):
            raise UsageError(f'{path}: target {i} has no "dsn"')
        targets.append(Target(str(entry.get("name") or describe(entry["dsn"])), entry["dsn"],
                              entry.get("schema"), entry.get("group")))  # fmt: skip
    return _unique(targets)


def _unique(targets: list[Target]) -> list[Target]:
    seen: set[str] = set()
    for t in targets:
        if t.name in seen:
            raise UsageError(f"two targets are called {t.name}: give them distinct names")
        seen.add(t.name)
    return targets


def from_query(url: str, query: str) -> list[Target]:
    """Targets from a query's first column: DSNs, or schema names of ``url``'s database."""
    try:
        with connect(url, autocommit=True) as conn:
            rows = conn.execute(query.encode("utf-8")).fetchall()  # the user's own query
    except psycopg.Error as exc:
        raise UsageError(f"--targets-query failed on {describe(url)}: {exc}".strip()) from None
    values = [str(r[0]) for r in rows if r and r[0] is not None]
    if all("=" in v or "://" in v for v in values):
        return _unique([Target(_name(v, i), v) for i, v in enumerate(values, 1)])
    return [Target(v, url, schema=v) for v in values]


def tenant_schemas(url: str, pattern: str) -> list[Target]:
    """The schemas of ``url``'s database whose names match ``pattern`` (SQL LIKE: ``tenant_%``),
    in name order."""
    with connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname", [pattern]
        ).fetchall()
    if not rows:
        raise UsageError(f"no schema of {describe(url)} matches {pattern!r}")
    return [Target(str(r[0]), url, schema=str(r[0])) for r in rows]


def describe_targets(targets: list[Target]) -> dict[str, Any]:
    servers = {t.server() for t in targets}
    return {"targets": len(targets), "servers": len(servers)}


def shard(targets: list[Target], k: int, n: int) -> list[Target]:
    """The targets of shard ``k`` of ``n`` (1-based): each target's name hashed (CRC-32), so
    every runner computes the same split, and adding a target moves no other one."""
    if not 1 <= k <= n:
        raise UsageError(f"--shard {k}/{n}: k goes from 1 to n")
    return [t for t in targets if zlib.crc32(t.name.encode("utf-8")) % n == k - 1]


def parse_shard(text: str) -> tuple[int, int]:
    """``k/n`` -> (k, n)."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text}: write it k/n, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard {text}: k goes from 1 to n")
    return k, n
