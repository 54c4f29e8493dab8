"""One catalog query, two drivers: ``:name`` binds that psycopg (the doctor, explain, the
pytest plugin) and SQLAlchemy (the migration helpers on Alembic's connection) both run."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg

Connection = psycopg.Connection[tuple[Any, ...]]
if TYPE_CHECKING:
    import sqlalchemy as sa

# SQLAlchemy's own rule for a bind in text(): ``:name``, not ``::type`` nor ``\:``.
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


class CatalogQuery:
    """One catalog query with ``:name`` binds. The same SQL serves psycopg (the doctor, explain)
    and a SQLAlchemy connection (Alembic's, on psycopg or asyncpg). SQLAlchemy is imported only
    for the latter: the pytest plugin reads the catalog through psycopg and should not pay
    for it."""

    def __init__(self, text: str) -> None:
        self.text = text
        # psycopg's format: literal % doubled, binds as %(name)s (a unit test compares it
        # with what SQLAlchemy's psycopg dialect compiles the same text to).
        self.pyformat = _BIND.sub(r"%(\1)s", text.replace("%", "%%"))
        self._clause: sa.TextClause | None = None

    def clause(self) -> sa.TextClause:
        if self._clause is None:
            import sqlalchemy as sa

            self._clause = sa.text(self.text)
        return self._clause


Runner = Callable[[CatalogQuery, Mapping[str, Any]], Sequence[Sequence[Any]]]
"""Runs one catalog query with its binds, through psycopg or SQLAlchemy."""


def psycopg_query(query: CatalogQuery, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``query`` as psycopg's text and binds."""
    return query.pyformat, dict(params)


def psycopg_runner(conn: Connection) -> Runner:
    def run(query: CatalogQuery, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        return conn.execute(query.pyformat, dict(params)).fetchall()

    return run


def sqlalchemy_runner(conn: sa.Connection) -> Runner:
    def run(query: CatalogQuery, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        return conn.execute(query.clause(), dict(params)).all()

    return run
