"""An index build beside a writer: how long the writer waits, online and plain."""

from __future__ import annotations

import time

import psycopg

from dbtune.bench.writer import WriterStats, writing
from dbtune.dsn import libpq_url

COVERING = "ix_conversation_history_user_id_created_at"
COVERING_DEFINITION = (
    "ON conversation_history (user_id, created_at DESC) INCLUDE (role, message_type)"
)


def build_beside_writer(
    url: str, *, concurrently: bool, index: str = COVERING, definition: str = COVERING_DEFINITION
) -> tuple[float, WriterStats]:
    """Build ``index`` (dropping it afterwards) while a writer inserts; (build s, writer)."""
    keyword = "CONCURRENTLY " if concurrently else ""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index}")
        with writing(url) as writer:
            started = time.perf_counter()
            conn.execute(f"CREATE INDEX {keyword}{index} {definition}")
            build_s = time.perf_counter() - started
        conn.execute(f"DROP INDEX CONCURRENTLY {index}")
        conn.execute("VACUUM conversation_history")
    return build_s, writer.stats()
