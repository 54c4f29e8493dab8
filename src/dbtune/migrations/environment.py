"""The Alembic environment dbtune's chains run in: the reference schema's and an ops chain's.

The URL comes from ``-x url=...``, else from ``DATABASE_URL`` (dbtune's own commands pass it in
``config.attributes["url"]``). ``postgresql://`` runs on psycopg; ``postgresql+asyncpg://`` runs
through an async engine. Each revision commits on its own (``transaction_per_migration``) so a
``CREATE INDEX CONCURRENTLY`` in an ``autocommit_block()`` never holds locks taken by the
revisions before it, and NullPool keeps no connection open after the run.

An *ops chain* — dbtune's index revisions beside an application's own Alembic chain — keeps its
place in a version table of its own, so the application's ``alembic_version`` is never read
or written: ``version_table`` comes from ``-x version_table=...``, the ini's ``version_table``
option, or ``DBTUNE_VERSION_TABLE`` (and ``version_table_schema`` the same way); without any,
Alembic's ``alembic_version``. Call :func:`run` from an ``env.py``.
"""

from __future__ import annotations

import asyncio
import logging.config
import os

from alembic import context
from alembic.util import CommandError
from sqlalchemy import create_engine, exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from dbtune.db import connect_timeout, connection_error_text
from dbtune.db.dsn import APPLICATION_NAME, describe, is_async_url, redact, sqlalchemy_url
from dbtune.errors import DbtuneError
from dbtune.migrations.autogenerate import rewrite_directives
from dbtune.migrations.run_lock import DEFAULT_WAIT, lock_key, migration_lock, validated_wait

target_metadata = None


def _setting(name: str) -> str | None:
    """``-x name=...``, the ini's [alembic] option, or ``DBTUNE_<NAME>``."""
    value = (
        context.get_x_argument(as_dictionary=True).get(name)
        or context.config.get_main_option(name)
        or os.environ.get(f"DBTUNE_{name.upper()}", "").strip()
    )
    return str(value) if value else None


def _version_options() -> dict[str, str]:
    options = {}
    for name in ("version_table", "version_table_schema"):
        value = _setting(name)
        if value:
            options[name] = value
    return options


OFFLINE_URL = "postgresql+psycopg://offline/offline"  # --sql needs only the dialect


def _database_url(offline: bool = False) -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or context.config.attributes.get("url")
        or os.environ.get("DATABASE_URL", "").strip()
        or (OFFLINE_URL if offline else "")
    )
    if not url:
        raise CommandError(
            "no database URL: run `alembic -x url=postgresql://user:password@host:5432/dbname "
            "upgrade head` or set DATABASE_URL"
        )
    return str(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        transaction_per_migration=True,
        process_revision_directives=rewrite_directives,
        **_version_options(),  # type: ignore[arg-type]
    )
    wait = context.get_x_argument(as_dictionary=True).get("migration_lock_wait") or (
        os.environ.get("DBTUNE_MIGRATION_LOCK_WAIT", "").strip() or DEFAULT_WAIT
    )
    try:
        # One Alembic run per database at a time: a second waits, saying who holds the lock.
        key = lock_key(_version_options().get("version_table_schema"))
        with (
            migration_lock(connection, validated_wait(wait), key),
            context.begin_transaction(),
        ):
            context.run_migrations()
    except DbtuneError as error:
        # dbtune's migration errors name the index and the fix: show them as one FAILED line.
        raise CommandError(redact(error.message)) from None


def _connect_error(url: str, error: Exception) -> CommandError:
    cause = error.orig if isinstance(error, exc.DBAPIError) and error.orig else error
    return CommandError(f"cannot connect to {describe(url)}: {connection_error_text(cause)}")


def run_migrations_offline() -> None:
    """Emit SQL for a DBA to apply with psql (``alembic upgrade head --sql``)."""
    try:
        offline_url = sqlalchemy_url(_database_url(offline=True))
    except DbtuneError as error:
        raise CommandError(error.message) from None
    context.configure(
        url=offline_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
        **_version_options(),  # type: ignore[arg-type]
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    try:
        url = _database_url()
        async_ = is_async_url(url)
        timeout = connect_timeout(url)
    except DbtuneError as error:
        raise CommandError(error.message) from None
    connect_args: dict[str, object] = {
        "application_name": f"{APPLICATION_NAME} alembic",
        "connect_timeout": timeout,
    }
    if async_:
        asyncio.run(_run_async(url, f"{APPLICATION_NAME} alembic", timeout))
        return
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool, connect_args=connect_args)
    try:
        try:
            connection = engine.connect()
        except exc.DBAPIError as error:
            raise _connect_error(url, error) from None
        with connection:
            _run(connection)
    finally:
        engine.dispose()


async def _run_async(url: str, application_name: str, timeout: int) -> None:
    engine = create_async_engine(
        sqlalchemy_url(url),
        poolclass=NullPool,
        connect_args={
            "server_settings": {"application_name": application_name},
            "timeout": timeout or None,  # 0: libpq's "for ever"
        },
    )
    try:
        try:
            connection = await engine.connect()
        except (exc.DBAPIError, OSError, TimeoutError) as error:
            raise _connect_error(url, error) from None
        try:
            await connection.run_sync(_run)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def run() -> None:
    """Run the migrations Alembic asked for: online, or as SQL with ``--sql``."""
    config = context.config
    if config.config_file_name is not None and config.attributes.get("configure_logger", True):
        logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        run_migrations_offline()
    else:
        run_migrations_online()
