"""Hints decided from the query's parse tree and the catalog, on plans recorded from PG 18.

Each kind of non-sargable condition has a case that must be reported and a true negative
that must not: the recorded plan shows what PostgreSQL printed (``(status)::text`` for a
varchar column) and the hint must not be fooled by it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtune.checks import CheckContext, run_checks
from dbtune.plan import parse_plan
from dbtune.query.sargable import TableHintFacts, hints
from dbtune.sql.shape import shape
from dbtune.workload import Expectations

DATA = Path(__file__).parent / "data"
ORDERS = {"id": "uuid", "customerId": "int8", "status": "varchar", "created": "timestamptz",
          "total": "numeric", "note": "text"}  # fmt: skip
CUSTOMER = {"id": "int8", "email": "varchar", "displayName": "varchar"}


def _failing_messages(plan: str, query: str, facts: TableHintFacts) -> str:
    use = shape(query).tables[0]
    ctx = CheckContext(
        parse_plan((DATA / f"hint_{plan}.json").read_text()),
        Expectations(index="ix_wanted", no_seq_scan=True),
        {use.name: 200_000.0},
        hints=tuple(hints(use, facts)),
    )
    results = run_checks(ctx)
    assert {r.status for r in results} == {"fail"}
    return " ".join(r.message for r in results)


CASES = [
    ("function", 'SELECT id FROM "Shop"."Customer" WHERE lower(email) = %(e)s', CUSTOMER,
     "no index holds lower(email)"),
    ("day_cast", 'SELECT id FROM "Shop"."Orders" WHERE created::date = current_date', ORDERS,
     "created >= day AND created < day + 1"),
    ("operator", "SELECT id FROM \"Shop\".\"Orders\" WHERE created + interval '1 day' > now()",
     ORDERS, "move the arithmetic to the other side"),
    ("leading_wildcard", "SELECT id FROM \"Shop\".\"Orders\" WHERE note LIKE '%%42'", ORDERS,
     "starts with a wildcard"),
    ("text_cast", 'SELECT id FROM "Shop"."Orders" WHERE "customerId"::text = %(c)s', ORDERS,
     "casts customerId (int8) to text"),
]  # fmt: skip


@pytest.mark.parametrize(("plan", "query", "columns", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_is_named(plan: str, query: str, columns: dict[str, str], expected: str) -> None:
    messages = _failing_messages(plan, query, TableHintFacts(columns))
    assert "is not sargable" in messages
    assert expected in messages


def test_varchar_compared_with_a_string_is_sargable() -> None:
    """PostgreSQL prints (status)::text for a varchar column; nothing is wrong with it."""
    for query in (
        'SELECT id FROM "Shop"."Orders" WHERE status = \'open\'',
        'SELECT id FROM "Shop"."Orders" WHERE status::text = \'open\'',
        "SELECT id FROM \"Shop\".\"Orders\" o WHERE o.status::varchar IN ('open', 'paid')",
    ):
        messages = _failing_messages("varchar", query, TableHintFacts(ORDERS))
        assert "sargable" not in messages, query
        assert "an index whose key starts with the WHERE's equality columns" in messages


def test_a_matching_expression_index_silences_the_function_hint() -> None:
    """The catalog prints the index on lower(email) as lower((email)::text)."""
    facts = TableHintFacts(CUSTOMER, expressions=frozenset({"lower(email)"}))
    query = 'SELECT id FROM "Shop"."Customer" WHERE lower(email) = %(e)s'
    assert "sargable" not in _failing_messages("function", query, facts)
    other = 'SELECT id FROM "Shop"."Customer" WHERE upper(email) = %(e)s'
    assert "no index holds upper(email)" in _failing_messages("function", other, facts)


def test_an_expression_index_on_the_day_silences_the_cast_hint() -> None:
    facts = TableHintFacts(ORDERS, expressions=frozenset({"CAST(created AS date)"}))
    query = 'SELECT id FROM "Shop"."Orders" WHERE created::date = current_date'
    assert "sargable" not in _failing_messages("day_cast", query, facts)


def test_the_arithmetic_on_the_other_side_is_sargable() -> None:
    query = 'SELECT id FROM "Shop"."Orders" WHERE created > now() - interval \'1 day\''
    assert "sargable" not in _failing_messages("operator", query, TableHintFacts(ORDERS))


def test_a_prefix_pattern_or_a_trigram_index_is_not_reported() -> None:
    prefix = 'SELECT id FROM "Shop"."Orders" WHERE note LIKE \'note 4%%\''
    assert "sargable" not in _failing_messages("leading_wildcard", prefix, TableHintFacts(ORDERS))
    wildcard = 'SELECT id FROM "Shop"."Orders" WHERE note LIKE \'%%42\''
    trigram = TableHintFacts(ORDERS, trigram=frozenset({"note"}))
    assert "sargable" not in _failing_messages("leading_wildcard", wildcard, trigram)


def test_a_cast_to_the_columns_own_type_is_sargable() -> None:
    query = 'SELECT id FROM "Shop"."Orders" WHERE "customerId"::bigint = %(c)s'
    assert "sargable" not in _failing_messages("text_cast", query, TableHintFacts(ORDERS))


def test_a_column_of_another_table_is_not_guessed() -> None:
    """An unqualified column in a join may belong to either table: no hint rather than a
    wrong one."""
    query = (
        'SELECT o.id FROM "Shop"."Orders" o JOIN "Shop"."Customer" c ON c.id = o."customerId" '
        "WHERE lower(email) = %(e)s"
    )
    assert all(not hints(use, TableHintFacts(CUSTOMER)) for use in shape(query).tables)
