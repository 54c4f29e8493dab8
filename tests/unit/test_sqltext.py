"""SQL understood with the server's grammar: one statement, and what it does."""

from __future__ import annotations

import pytest
from psycopg import sql

from dbtune.migrations.offline import do_block
from dbtune.sql.identifiers import quote_ident
from dbtune.sql.text import Access, SqlTextError, analyse, same_expression


@pytest.mark.parametrize(
    ("text", "access"),
    [
        ("SELECT 1", Access.READ),
        ("TABLE t", Access.READ),
        ("WITH a AS (SELECT 'update; delete' AS x) SELECT * FROM a", Access.READ),
        ("/* DELETE */ SELECT id FROM t WHERE id = %(id)s", Access.READ),
        ("SELECT * FROM t FOR UPDATE", Access.LOCKING),
        ("SELECT * FROM (SELECT * FROM t FOR SHARE) s", Access.LOCKING),
        ("SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", Access.LOCKING),
        ("WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d", Access.WRITE),
        ("SELECT * INTO copy_of_t FROM t", Access.WRITE),
        ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", Access.WRITE),
        ("INSERT INTO t VALUES (1)", Access.WRITE),
        ("CALL p()", Access.OTHER),
        ("DO $$ BEGIN DELETE FROM t; END $$", Access.OTHER),
        ("COPY t TO STDOUT", Access.OTHER),
        ("SET default_transaction_read_only = off", Access.OTHER),
    ],
)
def test_access_comes_from_the_parse_tree(text: str, access: Access) -> None:
    assert analyse(text).access is access


@pytest.mark.parametrize(
    "text",
    ["SELECT 1; ROLLBACK; DELETE FROM t", "SELECT 1;COMMIT", "SELEC 1", "", "EXPLAIN SELECT 1"],
)
def test_anything_but_one_query_is_refused(text: str) -> None:
    with pytest.raises(SqlTextError):
        analyse(text)


def test_functions_are_listed_qualified_or_not() -> None:
    info = analyse("SELECT pg_catalog.nextval('s'), dblink_exec('x', 'y') FROM t")
    assert info.functions == ("pg_catalog.nextval", "dblink_exec")


def test_expressions_compare_structurally() -> None:
    assert same_expression("(status = 'open'::text)", "status = 'open'")
    assert same_expression("(active)", "active")
    assert not same_expression("active", "NOT active")
    assert not same_expression("a = 1 UNION SELECT 2", "a = 1")


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("orders", "orders"),
        ("Orders", '"Orders"'),
        ("a$b", '"a$b"'),
        ("select", '"select"'),
        ('a"b', '"a""b"'),
        ("1st", '"1st"'),
        ("name", "name"),  # unreserved keyword: bare, as quote_ident leaves it
    ],
)
def test_quote_ident_matches_the_server(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted


def test_a_do_block_tag_the_body_does_not_contain() -> None:
    block = do_block(sql.SQL("BEGIN RAISE NOTICE '$dbtune$'; END")).as_string()
    assert block.startswith("DO $dbtune_$ ")
    assert block.endswith(" $dbtune_$")
