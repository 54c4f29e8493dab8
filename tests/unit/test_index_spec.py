"""Index definitions, comparison and the btree width guard: pure logic."""

from __future__ import annotations

import pytest

from dbtune.errors import UsageError
from dbtune.migrations.tunables import duration_s, tunables
from dbtune.sql.index_spec import (
    ColumnType,
    ExistingIndex,
    IndexSpec,
    differences,
    length_limit,
    max_width,
    parse_column,
    typmod_bounds,
    width_problem,
)

SPEC = IndexSpec.build("ix_m", "messages", ["user_id", "created_at DESC"], include=["role"])
EXISTING = ExistingIndex(
    name="ix_m",
    table="messages",
    valid=True,
    unique=False,
    key_columns=(("user_id", False), ("created_at", True)),
    include=("role",),
    predicate=None,
    definition="CREATE INDEX ix_m ON public.messages USING btree (user_id, created_at DESC) "
    "INCLUDE (role)",
)
COLUMNS = {
    "user_id": ColumnType("user_id", "bigint", 8),
    "created_at": ColumnType("created_at", "timestamp with time zone", 8),
    "role": ColumnType("role", "text", -1, max_chars=32),
    "content": ColumnType("content", "text", -1),
    "code": ColumnType("code", "character varying(700)", -1, max_chars=700),
}


def test_parse_column() -> None:
    assert parse_column("created_at DESC") == ("created_at", True)
    assert parse_column(" user_id ") == ("user_id", False)
    assert parse_column("lower(email) asc") == ("lower(email)", False)


def test_sql_rendering() -> None:
    partial = IndexSpec.build("ix_r", "reminders", ["next_run_at"], where="active")
    assert SPEC.sql() == "CREATE INDEX ix_m ON messages (user_id, created_at DESC) INCLUDE (role)"
    assert partial.sql() == "CREATE INDEX ix_r ON reminders (next_run_at) WHERE active"


def test_any_name_is_quoted_not_refused() -> None:
    hostile = IndexSpec.build("ix; DROP TABLE users", 'Or"ders', ["userRef", "createdAt DESC"])
    assert hostile.sql("App Schema") == (
        'CREATE INDEX "ix; DROP TABLE users" ON "App Schema"."Or""ders" '
        '("userRef", "createdAt" DESC)'
    )
    assert IndexSpec.build("select", "user", ["order"]).sql() == (
        'CREATE INDEX "select" ON "user" ("order")'
    )


@pytest.mark.parametrize("name", ["", "x" * 64, "é" * 32, "a\x00b"])
def test_names_postgresql_would_not_keep_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"identifier|63 bytes"):
        IndexSpec.build(name, "messages", ["user_id"])


def test_same_definition_has_no_differences() -> None:
    assert differences(SPEC, EXISTING) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            IndexSpec.build("ix_m", "messages", ["user_id", "created_at"], include=["role"]),
            ["key columns"],
        ),
        (IndexSpec.build("ix_m", "messages", ["user_id", "created_at DESC"]), ["INCLUDE columns"]),
        (
            IndexSpec.build(
                "ix_m", "messages", ["user_id", "created_at DESC"], include=["role"], unique=True
            ),
            ["uniqueness"],
        ),
        (
            IndexSpec.build(
                "ix_m", "messages", ["user_id", "created_at DESC"], include=["role"], where="active"
            ),
            ["WHERE predicate"],
        ),
    ],
)
def test_differences(spec: IndexSpec, expected: list[str]) -> None:
    assert differences(spec, EXISTING) == expected


def test_predicates_compare_modulo_parentheses() -> None:
    spec = IndexSpec.build("ix_r", "reminders", ["next_run_at"], where="active AND user_id > 0")
    existing = ExistingIndex(
        "ix_r",
        "reminders",
        True,
        False,
        (("next_run_at", False),),
        (),
        "(active AND (user_id > 0))",
        "",
    )
    assert differences(spec, existing) == []


def test_max_width() -> None:
    assert max_width(COLUMNS["user_id"]) == 8
    assert max_width(COLUMNS["role"]) == 32 * 4 + 4
    assert max_width(COLUMNS["content"]) is None


def test_bounded_columns_pass_the_width_guard() -> None:
    assert width_problem(SPEC, COLUMNS) is None


def test_unbounded_include_is_refused_with_the_reason() -> None:
    spec = IndexSpec.build("ix_w", "messages", ["user_id"], include=["content"])
    problem = width_problem(spec, COLUMNS)
    assert problem is not None
    assert "content (text)" in problem
    assert "2704 bytes" in problem
    assert "allow_wide=True" in problem


def test_bounded_but_too_wide_in_total_is_refused() -> None:
    spec = IndexSpec.build("ix_w", "messages", ["user_id"], include=["code"])
    problem = width_problem(spec, COLUMNS)
    assert problem is not None
    assert "can reach 2836 bytes" in problem


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ("CHECK ((char_length(role) <= 32))", 32),
        ("CHECK ((length(message_type) <= 64))", 64),
        ("CHECK ((length((code)::text) <= 10))", 10),
        ('CHECK ((char_length("Body") <= 500))', 500),
        ('CHECK ((char_length("a ""b""") <= 7))', 7),
        ("CHECK ((role = ANY (ARRAY['user'::text, 'assistant'::text])))", None),
        ("CHECK ((char_length(role) >= 1))", None),
    ],
)
def test_length_limit(definition: str, expected: int | None) -> None:
    assert length_limit(definition) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("300ms", 0.3), ("2min", 120.0), ("500", 0.5), ("1h", 3600.0), ("5 s", 5.0)],
)
def test_timeouts(text: str, seconds: float) -> None:
    assert duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["soon", "0", "-1s", "5 hours"])
def test_bad_timeout(text: str) -> None:
    with pytest.raises(UsageError, match=r"duration|more than zero"):
        duration_s(text)


@pytest.mark.parametrize("retries", [-1, 101])
def test_lock_retries_out_of_range_are_refused(retries: int) -> None:
    with pytest.raises(UsageError, match="out of range"):
        tunables(None, "5s", retries)


def test_predicates_compare_structurally() -> None:
    spec = IndexSpec.build("ix_s", "orders", ["state"], where="state = 'open'")
    existing = ExistingIndex(
        "ix_s", "orders", True, False, (("state", False),), (), "(state = 'open'::text)", ""
    )
    assert differences(spec, existing) == []
    other = ExistingIndex(
        "ix_s", "orders", True, False, (("state", False),), (), "(state = 'closed'::text)", ""
    )
    assert differences(spec, other) == ["WHERE predicate"]


@pytest.mark.parametrize(
    ("typname", "typmod", "expected"),
    [
        ("varchar", 64 + 4, (64, None)),
        ("bpchar", 2 + 4, (2, None)),
        ("numeric", ((22 << 16) | 2) + 4, (None, 24)),  # numeric(22, 2): bounded, 24 bytes
        ("numeric", -1, (None, None)),  # numeric without precision: unbounded
        ("text", -1, (None, None)),
        ("varchar", -1, (None, None)),
    ],
)
def test_typmod_bounds(typname: str, typmod: int, expected: tuple[int | None, int | None]) -> None:
    assert typmod_bounds(typname, typmod) == expected


def test_a_numeric_with_precision_is_bounded() -> None:
    column = ColumnType("amount", "numeric(22,2)", -1, None, 24)
    assert max_width(column) == 24
