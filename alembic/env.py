"""Alembic environment for dbtune's reference schema: see :mod:`dbtune.migrations.environment`
(the URL from ``-x url=...`` or ``DATABASE_URL``, psycopg or asyncpg, a revision per
transaction, one run per database at a time)."""

from dbtune.migrations.environment import run

run()
