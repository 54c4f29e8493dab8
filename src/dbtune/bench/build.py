"""An index build beside a writer: how long the writer waits, online and plain."""

from __future__ import annotations

import time

from psycopg import sql

from dbtune.bench.writer import WriterStats, writing
from dbtune.db import connect

COVERING = "ix_conversation_history_user_id_created_at"
COVERING_DEFINITION = sql.SQL(
    "ON conversation_history (user_id, created_at DESC) INCLUDE (role, message_type)"
)


def build_beside_writer(
    url: str,
    *,
    concurrently: bool,
    index: str = COVERING,
    definition: sql.Composable = COVERING_DEFINITION,
) -> tuple[float, WriterStats]:
    """Build ``index`` (dropping it afterwards) while a writer inserts; (build s, writer)."""
    keyword = sql.SQL("CONCURRENTLY " if concurrently else "")
    name = sql.Identifier(index)
    with connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name))
        with writing(url) as writer:
            started = time.perf_counter()
            conn.execute(sql.SQL("CREATE INDEX {}{} {}").format(keyword, name, definition))
            build_s = time.perf_counter() - started
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY {}").format(name))
        conn.execute("VACUUM conversation_history")
    return build_s, writer.stats()
