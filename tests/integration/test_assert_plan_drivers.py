"""dbtune.testing.assert_plan with every driver a Python service uses, passing and failing.

psycopg 3 (and SQLAlchemy over it) plan on the caller's own connection: inside a test's open
transaction the plan sees its uncommitted rows, and the transaction is left as it was.
psycopg2, asyncpg and SQLAlchemy over psycopg2 plan on a connection of dbtune's own.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import psycopg
import psycopg2
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dbtune.db.dsn import sqlalchemy_url
from dbtune.testing import assert_plan, assert_plan_async
from dbtune.workload import Expectations

COVERING = "ix_conversation_history_user_id_created_at"
RECENT = (
    "SELECT id, role, content, created_at FROM conversation_history "
    "WHERE user_id = %(u)s ORDER BY created_at DESC LIMIT 20"
)
BY_CONTENT = "SELECT id FROM conversation_history WHERE content = %(c)s"
EXPECT = Expectations(index=COVERING, no_sort=True)


def _heavy(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT user_id FROM conversation_history GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
    assert row is not None
    return int(row[0])


def _fails(call: Any) -> str:
    with pytest.raises(AssertionError) as info:
        call()
    return str(info.value)


def test_psycopg3_inside_an_open_transaction(seeded_url: str) -> None:
    user = _heavy(seeded_url)
    with psycopg.connect(seeded_url) as conn:
        conn.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")  # uncommitted, this session's
        result = assert_plan(conn, RECENT, {"u": user}, expect=EXPECT)
        assert result.plan is not None
        assert_plan(conn, "SELECT x FROM scratch WHERE x = %(x)s", {"x": 1})  # sees it
        message = _fails(lambda: assert_plan(conn, BY_CONTENT, {"c": "x"}, expect=EXPECT))
        assert f"uses_index: expected index {COVERING}" in message
        # The caller's transaction is intact and read-write again.
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        conn.execute("INSERT INTO scratch VALUES (2)")
        assert conn.execute("SELECT count(*) FROM scratch").fetchone() == (2,)


def test_sqlalchemy_connection_session_and_psycopg2_engine(seeded_url: str) -> None:
    user = _heavy(seeded_url)
    engine = sa.create_engine(sqlalchemy_url(seeded_url))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))  # SQLAlchemy has begun its transaction
            assert_plan(conn, RECENT, {"u": user}, index=COVERING, no_sort=True)
            assert "uses_index" in _fails(
                lambda: assert_plan(conn, BY_CONTENT, {"c": "x"}, index=COVERING)
            )
        with Session(engine) as session:
            assert_plan(session, RECENT, {"u": user}, expect=EXPECT)
    finally:
        engine.dispose()
    old = sa.create_engine(sqlalchemy_url(seeded_url).set(drivername="postgresql+psycopg2"))
    try:
        with old.connect() as conn:
            assert_plan(conn, RECENT, {"u": user}, expect=EXPECT)
            assert "uses_index" in _fails(
                lambda: assert_plan(conn, BY_CONTENT, {"c": "x"}, expect=EXPECT)
            )
    finally:
        old.dispose()


def test_psycopg2(seeded_url: str) -> None:
    user = _heavy(seeded_url)
    conn = psycopg2.connect(psycopg.conninfo.make_conninfo(seeded_url))
    try:
        result = assert_plan(conn, RECENT, {"u": user}, expect=EXPECT, max_buffers=10_000)
        assert result.query.expect.max_buffers == 10_000
        message = _fails(lambda: assert_plan(conn, BY_CONTENT, {"c": "x"}, expect=EXPECT))
        assert f"uses_index: expected index {COVERING}" in message
    finally:
        conn.close()


async def test_asyncpg(seeded_url: str) -> None:
    user = _heavy(seeded_url)
    conn = await asyncpg.connect(seeded_url)
    try:
        await assert_plan_async(conn, RECENT, {"u": user}, expect=EXPECT)
        with pytest.raises(AssertionError, match="uses_index"):
            await assert_plan_async(conn, BY_CONTENT, {"c": "x"}, expect=EXPECT)
    finally:
        await conn.close()


def test_an_unknown_object_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="assert_plan takes a psycopg 3, psycopg2"):
        assert_plan(object(), RECENT, {"u": 1}, index=COVERING)
