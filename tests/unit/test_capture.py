"""Capture's pure parts: baselines from recorded plans, names, $n -> %(name)s, --update."""

from __future__ import annotations

from pathlib import Path

from dbtune.capture.statements import Statement
from dbtune.capture.workload_file import (
    baseline,
    captured_queries,
    merged,
    query_name,
    render,
    with_baselines,
)
from dbtune.plan import parse_plan
from dbtune.sql.shape import shape
from dbtune.sql.text import analyse
from dbtune.workload import Expectations, parse_workload

DATA = Path(__file__).parent / "data"


def _statement(text: str, table: str = "Orders") -> Statement:
    return Statement(7, text, 10, 50.0, 5.0, 10, analyse(text), (("Shop", table),))


def test_baseline_is_what_the_plan_does_now() -> None:
    index_only = parse_plan((DATA / "message_listing_index_only.json").read_text())
    found = baseline(index_only)
    assert found["index_only"] is True
    assert found["no_sort"] is True
    assert found["no_seq_scan"] is True  # the shape, never the index's name
    assert "index" not in found
    sorted_scan = parse_plan((DATA / "recent_messages_seq_scan_sort.json").read_text())
    assert baseline(sorted_scan) == {}  # a Seq Scan and a Sort: no promise to keep
    incremental = parse_plan((DATA / "distinct_incremental_sort.json").read_text())
    assert "no_sort" not in baseline(incremental)


def test_names_and_custom_twins() -> None:
    text = 'SELECT id FROM "Shop"."Orders" WHERE "customerId" = $1 AND status IN ($2, $3)'
    generic, custom = captured_queries([_statement(text)])
    assert query_name(_statement(text)) == generic.name
    assert generic.name.startswith("orders_select_")
    assert generic.generic_only
    assert custom.name == f"{generic.name}_custom"
    assert custom.sql == (
        'SELECT id FROM "Shop"."Orders" WHERE "customerId" = %(customerid_1)s '
        "AND status IN (%(status_2)s, %(status_3)s)"
    )
    assert set(custom.params) == {"customerid_1", "status_2", "status_3"}
    # LIKE $1 is no comparison with a value to pick: no custom twin, the generic plan only.
    liked = 'SELECT id FROM "Shop"."Orders" WHERE note LIKE $1 LIMIT $2'
    assert [q.name.endswith("_custom") for q in captured_queries([_statement(liked)])] == [False]


def test_a_twin_for_a_limit_a_range_and_a_join() -> None:
    """Every captured read whose parameters can be picked gets its custom-plan twin: the
    LIMIT takes the rows a call returned on average (10 rows / 10 calls here)."""
    limited = 'SELECT id FROM "Shop"."Orders" WHERE "customerId" = $1 ORDER BY id LIMIT $2'
    _, custom = captured_queries([_statement(limited)])
    assert custom.sql.endswith('"customerId" = %(customerid_1)s ORDER BY id LIMIT %(limit_2)s')
    assert custom.params["limit_2"].literal == 1
    assert "psycopg2" in custom.description
    joined = (
        'SELECT o.id FROM "Shop"."Orders" AS o JOIN "Shop"."Customer" AS c ON c.id = '
        'o."customerId" WHERE c.email = $1 AND o."createdAt" >= $2'
    )
    statement = Statement(7, joined, 10, 50.0, 5.0, 10, analyse(joined),
                          (("Shop", "Orders"), ("Shop", "Customer")))  # fmt: skip
    _, twin = captured_queries([statement])
    assert twin.params["email_1"].sql is not None
    assert 'FROM "Shop"."Customer"' in twin.params["email_1"].sql
    assert 'FROM "Shop"."Orders"' in (twin.params["createdat_2"].sql or "")
    assert "/* dbtune */" in (twin.params["createdat_2"].sql or "")  # never captured itself


def test_a_percent_sign_survives_the_round_trip() -> None:
    text = """SELECT id FROM "Shop"."Orders" WHERE status = $1 AND note LIKE 'x%'"""
    (generic, custom) = captured_queries([_statement(text)])
    assert "'x%%'" in generic.sql
    assert custom.sql.endswith("status = %(status_1)s AND note LIKE 'x%%'")
    assert analyse(custom.sql).dollar_parameters == 0


def test_a_folded_in_list_is_several_values() -> None:
    """PostgreSQL 18's pg_stat_statements folds IN lists of constants into one $n."""
    conditions = shape("SELECT 1 FROM t WHERE s IN ($2 /*, ... */) AND b IN ($1)").tables[0]
    assert [(c.column, c.kind) for c in conditions.conditions] == [("s", "in"), ("b", "eq")]


def test_update_keeps_hand_written_keys_and_render_reads_back() -> None:
    text = 'SELECT id FROM "Shop"."Orders" WHERE "customerId" = $1'
    first = with_baselines(captured_queries([_statement(text)], pickers=False), {})
    rendered = render(first, "header")
    existing = parse_workload(rendered.replace("baseline = []", 'baseline = ["index"]'))
    hand = existing.queries[0]
    edited = parse_workload(
        rendered.replace("[query.captured]", "[query.expect]\nmax_buffers = 9\n\n[query.captured]")
    )
    assert edited.queries[0].expect == Expectations(max_buffers=9)
    plan = parse_plan((DATA / "message_listing_index_only.json").read_text())
    fresh = with_baselines(captured_queries([_statement(text)], pickers=False),
                           {hand.name: plan})  # fmt: skip
    (result,) = merged(edited, fresh)
    assert result.expect.max_buffers == 9
    assert result.expect.index_only is True
    assert result.captured["baseline"] == ["index_only", "no_seq_scan", "no_sort"]
    again = parse_workload(render([result], "h"))
    assert again.queries[0].expect == result.expect
