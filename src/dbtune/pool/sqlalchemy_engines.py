"""SQLAlchemy adapters: engines whose QueuePool is sized by :class:`PoolSize`.

``pool_size`` connections are kept, ``max_overflow`` more are opened under load, and
``pool_pre_ping`` tests each connection before lending it, which also recovers after a server
restart (SQLAlchemy then invalidates the whole pool).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine

from dbtune.db.dsn import APPLICATION_NAME, sqlalchemy_url
from dbtune.pool.sizing import PoolSize, engine_kwargs


def _options(size: PoolSize | None, overrides: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = dict(engine_kwargs(size))
    options.update(overrides)
    return options


def create_engine(
    url: str, *, size: PoolSize | None = None, pgbouncer: bool = False, **overrides: Any
) -> sa.Engine:
    """A sync engine on psycopg (``postgresql://`` becomes ``postgresql+psycopg://``)."""
    connect_args: dict[str, Any] = {"application_name": APPLICATION_NAME}
    if pgbouncer:
        connect_args["prepare_threshold"] = None
    connect_args.update(overrides.pop("connect_args", None) or {})
    return sa.create_engine(
        sqlalchemy_url(url), connect_args=connect_args, **_options(size, overrides)
    )


def _unique_statement_name() -> str:
    return f"__dbtune_{uuid.uuid4().hex}__"


def create_async_engine(
    url: str, *, size: PoolSize | None = None, pgbouncer: bool = False, **overrides: Any
) -> AsyncEngine:
    """An async engine on asyncpg (``postgresql://`` becomes ``postgresql+asyncpg://``)."""
    connect_args: dict[str, Any] = {"server_settings": {"application_name": APPLICATION_NAME}}
    if pgbouncer:
        # asyncpg prepares every statement; through transaction pooling the names collide or
        # vanish. No caches, and a unique name per statement.
        connect_args.update(
            statement_cache_size=0,
            prepared_statement_cache_size=0,
            prepared_statement_name_func=_unique_statement_name,
        )
    connect_args.update(overrides.pop("connect_args", None) or {})
    return sa_create_async_engine(
        sqlalchemy_url(url, async_=True), connect_args=connect_args, **_options(size, overrides)
    )
