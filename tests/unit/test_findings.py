"""The doctor's findings as pure functions of a catalog built here, as the checks are tested
on recorded plans: names compared by attnum and quoted in every fix, locked tables left out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dbtune.catalog import Catalog, Column, ForeignKey, IndexInfo, Table
from dbtune.doctor import DoctorOptions, diagnose
from dbtune.pool.budget import ServerBudget
from dbtune.sql.index_spec import ColumnType

ORDERS, USERS = 1001, 1002


def _index(name: str, keys: tuple[int, ...], **changes: object) -> IndexInfo:
    base = IndexInfo(
        name=name,
        table="Orders",
        schema="App Schema",
        valid=True,
        unique=False,
        primary=False,
        backs_constraint=False,
        key_columns=tuple(f"col{k}" for k in keys),
        descending=tuple(False for _ in keys),
        include=(),
        opclasses=" ".join("3124" for _ in keys),
        predicate="",
        method="btree",
        definition=f'CREATE INDEX "{name}" ON "App Schema"."Orders" USING btree (x)',
        bytes=20 * 2**20,
        oid=hash(name) % 100_000 + 10_000,
        table_oid=ORDERS,
        key_attnums=keys,
        scans=5,
        nulls_first=tuple(False for _ in keys),
        collations=tuple(0 for _ in keys),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _column(
    attnum: int, name: str, type_name: str, typlen: int, chars: int | None = None
) -> Column:
    typname = {"text": "text", "jsonb": "jsonb", "bigint": "int8"}.get(type_name, "varchar")
    return Column(ORDERS, attnum, ColumnType(name, type_name, typlen, chars), typname)


COLUMNS = {
    (ORDERS, 1): _column(1, "id", "bigint", 8),
    (ORDERS, 2): _column(2, "userRef", "bigint", 8),
    (ORDERS, 3): _column(3, "Body", "text", -1),
    (ORDERS, 4): _column(4, "Meta", "jsonb", -1),
    (ORDERS, 5): _column(5, "Role", "text", -1, 32),  # bounded by a validated CHECK
}
TABLES = {ORDERS: Table(ORDERS, "App Schema", "Orders", 1000, 900, 100_000.0, 0.0)}


def _catalog(*indexes: IndexInfo, **changes: object) -> Catalog:
    base = Catalog(indexes, COLUMNS, (), TABLES, "2026-11-01", budget=ServerBudget(100, 3, 0))
    return replace(base, **changes)  # type: ignore[arg-type]


def _found(catalog: Catalog, kind: str, **options: object) -> list[tuple[str, str]]:
    options.setdefault("show_all", True)
    outcomes = diagnose(catalog, DoctorOptions(**options))  # type: ignore[arg-type]
    outcome = next(o for o in outcomes if o.id == kind)
    return [(s.finding.subject, s.finding.fix) for s in outcome.findings]


def test_a_clean_catalog_has_no_findings() -> None:
    catalog = _catalog(_index("ix_user", (2,)))
    assert all(not o.findings for o in diagnose(catalog))


def test_an_invalid_index_is_dropped_and_rebuilt_by_its_quoted_name() -> None:
    broken = _index("IX Broken", (2,), valid=False)
    [(subject, fix)] = _found(_catalog(broken), "invalid_indexes")
    assert subject == '"App Schema"."IX Broken"'
    assert fix.startswith('DROP INDEX CONCURRENTLY "App Schema"."IX Broken"; CREATE INDEX ')
    assert "CONCURRENTLY" in fix.split(";")[1]


def test_duplicates_by_attnum_keep_the_older_and_quote_the_other() -> None:
    older = _index("IX_Orders", (2,), oid=10)
    newer = _index("ix_orders", (2,), oid=20)
    found = _found(_catalog(older, newer), "redundant_indexes")
    assert found == [('"App Schema".ix_orders', 'DROP INDEX CONCURRENTLY "App Schema".ix_orders;')]


def test_same_text_other_attnum_is_not_a_duplicate() -> None:
    """Two indexes whose column *texts* match but whose attnums differ are different."""
    a = _index("ix_a", (2,), key_columns=("x",), oid=10)
    b = _index("ix_b", (5,), key_columns=("x",), oid=20)
    assert _found(_catalog(a, b), "redundant_indexes") == []


def test_a_foreign_key_is_matched_by_attnum_and_its_fix_quotes_the_column() -> None:
    key = ForeignKey(
        "fk_user", ORDERS, "App Schema", "Orders", (2,), ("userRef",), "public", "users"
    )
    unindexed = _found(
        _catalog(_index("ix_body", (3,)), foreign_keys=(key,)), "unindexed_foreign_keys"
    )
    assert unindexed == [
        (
            '"App Schema"."Orders".fk_user',
            'CREATE INDEX CONCURRENTLY "ix_Orders_userRef" ON "App Schema"."Orders" ("userRef");',
        )
    ]
    indexed = _catalog(_index("ix_user", (2, 1)), foreign_keys=(key,))
    assert _found(indexed, "unindexed_foreign_keys") == []


def test_unused_spares_foreign_key_indexes_and_small_ones() -> None:
    key = ForeignKey(
        "fk_user", ORDERS, "App Schema", "Orders", (2,), ("userRef",), "public", "users"
    )
    fk_index = _index("ix_user", (2,), scans=0)
    idle = _index("ix_body_role", (5,), scans=0)
    small = _index("ix_small", (1, 5), scans=0, bytes=1024)
    found = _found(_catalog(fk_index, idle, small, foreign_keys=(key,)), "unused_indexes")
    assert [s for s, _ in found] == ['"App Schema".ix_body_role']


def test_a_wide_text_column_gets_a_check_that_fits_the_btree_limit() -> None:
    index = _index("Bad Index", (2,), include_attnums=(3,), include=("Body",))
    catalog = _catalog(index, widest={index.oid: 6400})
    [(subject, fix)] = _found(catalog, "wide_indexes")
    assert subject == '"App Schema"."Bad Index"'
    # 2704 - 8 header - (8 + 8) bigint = 2680; - 8 slack - 4 varlena = 2668; / 4 bytes per char
    assert 'CHECK (char_length("Body") <= 667) NOT VALID' in fix
    assert 'VALIDATE CONSTRAINT "ck_Orders_Body_length"' in fix
    message = next(
        s.finding.message for o in diagnose(catalog) if o.id == "wide_indexes" for s in o.findings
    )
    assert "6,400 bytes" in message


def test_a_wide_jsonb_column_is_dropped_not_bounded_and_a_bounded_one_is_fine() -> None:
    meta = _index("ix_meta", (2,), include_attnums=(4,), include=("Meta",))
    role = _index("ix_role", (2,), include_attnums=(5,), include=("Role",))
    found = _found(_catalog(meta, role), "wide_indexes")
    assert found == [('"App Schema".ix_meta', 'DROP INDEX CONCURRENTLY "App Schema".ix_meta;')]


def test_locked_indexes_are_left_out() -> None:
    locked = _index("ix_locked", (2,), valid=False, locked=True)
    catalog = _catalog(locked)
    assert _found(catalog, "invalid_indexes") == []
    assert catalog.locked_tables() == ['"App Schema"."Orders"']


def test_visibility_and_connections() -> None:
    covering = _index("ix_cover", (2,), include_attnums=(5,), include=("Role",))
    lagging = {ORDERS: Table(ORDERS, "App Schema", "Orders", 1000, 900, 100_000.0, 40_000.0)}
    [(_subject, fix)] = _found(_catalog(covering, tables=lagging), "visibility")
    assert fix.startswith('VACUUM (ANALYZE) "App Schema"."Orders"; ALTER TABLE')
    tiny = _catalog(budget=ServerBudget(10, 3, 0))
    assert _found(tiny, "connections", instances=40)


def _pair(small: Mapping[str, object], big: Mapping[str, object]) -> list[tuple[str, str]]:
    return _found(
        _catalog(
            _index("ix_small", (2,), oid=10, **small), _index("ix_big", (2, 1), oid=20, **big)
        ),
        "redundant_indexes",
    )


def test_another_collation_is_not_redundant() -> None:
    """(x COLLATE "C") serves neither = nor ORDER BY in the default collation, nor back."""
    assert _pair({"collations": (950,)}, {"collations": (100, 0)}) == []
    assert _pair({"collations": (100,)}, {"collations": (100, 0)}) != []


def test_a_one_column_prefix_serves_both_directions() -> None:
    # (x DESC) is (x, y) read backwards
    desc = {"descending": (True,), "nulls_first": (True,)}
    assert [s for s, _ in _pair(desc, {})] == ['"App Schema".ix_small']
    # (x DESC NULLS LAST) is not: backwards gives NULLS FIRST
    desc_nulls_last = {"descending": (True,), "nulls_first": (False,)}
    assert _pair(desc_nulls_last, {}) == []


def test_a_multi_column_prefix_needs_the_same_relative_directions() -> None:
    small = _index("ix_ab", (2, 1), oid=10, descending=(False, True), nulls_first=(False, True))
    same_relative = _index(
        "ix_abc",
        (2, 1, 5),
        oid=20,
        descending=(True, False, False),
        nulls_first=(True, False, False),
    )
    other_relative = replace(same_relative, name="ix_abc2", descending=(False, False, False),
                             nulls_first=(False, False, False))  # fmt: skip
    assert [s for s, _ in _found(_catalog(small, same_relative), "redundant_indexes")] == [
        '"App Schema".ix_ab'
    ]
    assert _found(_catalog(small, other_relative), "redundant_indexes") == []


def test_an_invalid_index_is_not_also_a_duplicate() -> None:
    valid = _index("ix_a", (2,), oid=10)
    invalid = _index("ix_b", (2,), oid=20, valid=False)
    catalog = _catalog(valid, invalid)
    assert _found(catalog, "redundant_indexes") == []
    assert [s for s, _ in _found(catalog, "invalid_indexes")] == ['"App Schema".ix_b']


def test_a_constraint_index_is_never_proposed_for_dropping() -> None:
    exclusion = _index("ex_orders", (2,), oid=10, backs_constraint=True)
    twin = _index("ix_orders", (2,), oid=20)
    assert [s for s, _ in _found(_catalog(exclusion, twin), "redundant_indexes")] == [
        '"App Schema".ix_orders'
    ]


def test_partitioned_indexes_are_judged_once_on_the_parent() -> None:
    only = 'CREATE INDEX ix_parent ON ONLY "App Schema"."Orders" USING btree ("userRef")'
    parent = _index(
        "ix_parent",
        (2,),
        oid=10,
        partitioned=True,
        scans=0,
        valid=False,
        definition=only,
        key_columns=("userRef",),
    )
    child = _index("orders_2026_userref_idx", (2,), oid=11, attached_to=10, scans=3)
    twin = _index("ix_parent_twin", (2,), oid=12, partitioned=True, scans=0)
    catalog = _catalog(parent, child, twin)
    [(subject, fix)] = _found(catalog, "invalid_indexes")
    assert subject == '"App Schema".ix_parent'
    assert fix == (
        'DROP INDEX "App Schema".ix_parent; '
        'CREATE INDEX ix_parent ON "App Schema"."Orders" ("userRef");'
    )
    unused = _found(catalog, "unused_indexes")
    assert unused == [('"App Schema".ix_parent_twin', 'DROP INDEX "App Schema".ix_parent_twin;')]


def test_a_big_table_never_analyzed_is_a_finding_a_small_one_is_not() -> None:
    never = Table(USERS, "public", "Big Load", 5000, 0, -1.0, 0.0)
    tiny = Table(USERS + 1, "public", "tiny", 3, 0, -1.0, 0.0)
    catalog = _catalog(tables={**TABLES, never.oid: never, tiny.oid: tiny})
    assert _found(catalog, "unanalyzed_tables") == [
        ('public."Big Load"', 'ANALYZE public."Big Load";')
    ]


def test_connections_judge_the_declared_pool_and_name_its_setting() -> None:
    from dbtune.catalog.health import ClientGroup, Health

    budget = _catalog(budget=ServerBudget(100, 3, 0))  # 97 connections for the fleet
    # SQLAlchemy's 5 + 10 per instance: 7 instances (105) do not fit, and the fix names them
    [(_, fix)] = _found(budget, "connections", instances=7, pool_size=5, max_overflow=10)
    assert fix.startswith("create_engine(..., pool_size=5, max_overflow=8)")
    assert _found(budget, "connections", instances=6, pool_size=5, max_overflow=10) == []
    [(_, fix)] = _found(budget, "connections", instances=4, pool_max=30)
    assert fix.startswith("the pool's max_size=24")
    # what is connected now: 90 of 97 taken leaves no room for a deploy's second set of pools
    busy = replace(
        budget,
        health=Health(
            clients=(ClientGroup("api", "10.0.0.7", 80, 70), ClientGroup("w", "x", 10, 0))
        ),
    )
    [(_, fix)] = _found(busy, "connections", instances=1, pool_max=5)
    assert fix.startswith("the pool's max_size=")
    message = next(
        s.finding.message
        for o in diagnose(busy, DoctorOptions(pool_max=5))
        if o.id == "connections"
        for s in o.findings
    )
    assert "90 of the 97 connections" in message
    assert "api from 10.0.0.7: 80 (70 idle)" in message
