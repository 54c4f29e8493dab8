"""The catalog's queries in psycopg's format are what SQLAlchemy makes of the same text."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from dbtune import catalog
from dbtune.catalog import CatalogQuery, health

QUERIES = {
    f"{module.__name__}.{name}": q
    for module in (catalog, health)
    for name, q in vars(module).items()
    if isinstance(q, CatalogQuery)
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_pyformat_matches_sqlalchemys_compilation(name: str) -> None:
    query = QUERIES[name]
    compiled = query.clause().compile(dialect=psycopg_dialect.dialect())  # type: ignore[no-untyped-call]
    assert query.pyformat == str(compiled)


def test_casts_percent_and_binds() -> None:
    query = CatalogQuery("SELECT CAST(:a AS int), x LIKE 'a%', '{}'::text[] WHERE y = :b_2")
    assert query.pyformat == (
        "SELECT CAST(%(a)s AS int), x LIKE 'a%%', '{}'::text[] WHERE y = %(b_2)s"
    )
    compiled = query.clause().compile(dialect=psycopg_dialect.dialect())  # type: ignore[no-untyped-call]
    assert query.pyformat == str(compiled)


def test_the_plugins_recorder_does_not_import_sqlalchemy() -> None:
    """A psycopg-only test suite does not pay for SQLAlchemy's import (about 0.1 s)."""
    code = "import sys, dbtune.pytest_plans.plugin; print('sqlalchemy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
