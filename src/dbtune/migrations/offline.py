"""Offline SQL (``alembic upgrade --sql``): what a DBA applies with psql, re-runnable.

Offline there is no catalog to ask, so the SQL carries its own guards: ``IF [NOT] EXISTS``, a
bounded ``lock_timeout``, and after each build a ``DO`` block that stops the script on an
INVALID index. Names inside those blocks are string literals built with ``psycopg.sql.Literal``
(quotes doubled, backslashes escaped), and every identifier is an ``Identifier``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from psycopg import sql

from dbtune.identifiers import ident
from dbtune.index_spec import IndexSpec
from dbtune.migrations.statements import execute, set_lock_timeout


def do_block(body: sql.Composable) -> sql.Composed:
    """``DO $tag$ body $tag$`` with a dollar-quote tag the body does not contain (a name may
    hold ``$$``)."""
    text = body.as_string()
    tag = "$dbtune$"
    while tag in text:
        tag = tag[:-1] + "_$"
    return sql.SQL("DO {tag} {body} {tag}").format(tag=sql.SQL(tag), body=sql.SQL(text))


def _regclass_text(schema: str | None, name: str) -> sql.Composable:
    """The literal ``'"schema"."name"'`` for ``::regclass`` / ``to_regclass``."""
    return sql.Literal(ident(*([schema] if schema else []), name).as_string())


def create_index(spec: IndexSpec, schema: str | None, lock_timeout: str) -> None:
    execute(set_lock_timeout(lock_timeout))
    execute("SET statement_timeout = 0")
    execute(spec.statement(schema, concurrently=True, if_not_exists=True))
    index = _regclass_text(schema, spec.name)
    drop = sql.SQL("DROP INDEX CONCURRENTLY {}").format(
        ident(*([schema] if schema else []), spec.name)
    )
    message = sql.Literal(
        f"index {spec.name} is INVALID (a failed build): run {drop.as_string()}; then apply "
        "this script again"
    )
    execute(
        do_block(
            sql.SQL(
                "BEGIN IF EXISTS (SELECT 1 FROM pg_index "
                "WHERE indexrelid = to_regclass({}) AND NOT indisvalid) "
                "THEN RAISE EXCEPTION '%', {}; END IF; END"
            ).format(index, message)
        )
    )
    execute("RESET lock_timeout")
    execute("RESET statement_timeout")


def drop_index(name: str, schema: str | None, lock_timeout: str) -> None:
    execute(set_lock_timeout(lock_timeout))
    execute(
        sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
            ident(*([schema] if schema else []), name)
        )
    )
    execute("RESET lock_timeout")


def add_checks(
    table: str, schema: str | None, checks: Mapping[str, str], lock_timeout: str
) -> None:
    """Each CHECK added NOT VALID only when missing: re-running keeps the guarantee."""
    target = ident(*([schema] if schema else []), table)
    execute(set_lock_timeout(lock_timeout))
    for name, condition in checks.items():
        execute(
            do_block(
                sql.SQL(
                    "BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint "
                    "WHERE conrelid = {}::regclass AND conname = {}) THEN "
                    "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID; END IF; END"
                ).format(
                    _regclass_text(schema, table),
                    sql.Literal(name),
                    target,
                    ident(name),
                    sql.SQL(condition),
                )
            )
        )
    execute("RESET lock_timeout")


def validate_checks(
    table: str, schema: str | None, names: Sequence[str], lock_timeout: str
) -> None:
    target = ident(*([schema] if schema else []), table)
    execute(set_lock_timeout(lock_timeout, local=True))
    execute("SET LOCAL statement_timeout = 0")
    for name in names:
        execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(target, ident(name)))


def drop_checks(table: str, schema: str | None, names: Sequence[str], lock_timeout: str) -> None:
    target = ident(*([schema] if schema else []), table)
    execute(set_lock_timeout(lock_timeout))
    for name in names:
        execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(target, ident(name)))
    execute("RESET lock_timeout")
