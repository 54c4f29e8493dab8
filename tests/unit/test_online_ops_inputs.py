"""What the online operations accept as SQL text, and the names they make up."""

from __future__ import annotations

import pytest

from dbtune.errors import MigrationError
from dbtune.migrations.backfill import set_list
from dbtune.migrations.not_null import not_null_check_name
from dbtune.sql.identifiers import derived_name
from dbtune.sql.text import SqlTextError, check_set_clause, check_type_name


@pytest.mark.parametrize(
    "type_name",
    ["varchar(40)", "numeric(12, 2)", "timestamptz", '"Shop"."Money"', "int[]", "bit varying(8)"],
)
def test_a_type_name_is_accepted(type_name: str) -> None:
    assert check_type_name(type_name) == type_name


@pytest.mark.parametrize(
    "text",
    ["int) FROM pg_class --", "int), (1", "int); DROP TABLE x; --", "", "1 + 1", "int) WHERE (1"],
)
def test_anything_but_one_type_name_is_refused(text: str) -> None:
    with pytest.raises(SqlTextError):
        check_type_name(text)


@pytest.mark.parametrize("text", ["a = 1", 'a = 1, "B" = lower(c)', "(a, b) = (1, 2)"])
def test_a_set_list_is_accepted(text: str) -> None:
    assert check_set_clause(text) == text


@pytest.mark.parametrize(
    "text",
    ["a = 1 WHERE true", "a = 1 RETURNING *", "a = 1 FROM other", "a = 1; DROP TABLE x", "a"],
)
def test_anything_but_a_set_list_is_refused(text: str) -> None:
    with pytest.raises(SqlTextError):
        check_set_clause(text)


def test_a_mapping_becomes_a_quoted_set_list() -> None:
    assert set_list({"total": "price * qty", "updatedAt": "now()"}) == (
        'total = (price * qty), "updatedAt" = (now())'
    )
    with pytest.raises(MigrationError, match="refused"):
        set_list({"total": "1); DROP TABLE x; --"})


def test_derived_names_fit_63_bytes_and_stay_distinct() -> None:
    assert not_null_check_name("Orders", "note") == "ck_Orders_note_not_null"
    long_a = derived_name("ck", "t" * 40, "a" * 30, suffix="not_null")
    long_b = derived_name("ck", "t" * 40, "a" * 29 + "b", suffix="not_null")
    assert len(long_a.encode()) <= 63
    assert long_a.endswith("_not_null")
    assert long_a != long_b
    accented = derived_name("ck", "é" * 40, suffix="not_null")  # cut on a character boundary
    assert len(accented.encode()) <= 63
    assert accented.encode().decode() == accented


def test_batches_are_sized_by_time() -> None:
    """A batch's size follows from the last one's rows per second: at most doubling, at once
    smaller after a slow batch, halved while sessions wait for locks, within the ceiling."""
    from dbtune.migrations.backfill import BatchSizer

    sizer = BatchSizer(ceiling=10_000, max_batch_s=0.2)
    assert sizer.size == 100
    sizer.took(100, 0.001)  # fast: doubles, no more
    assert sizer.size == 200
    for _ in range(10):
        sizer.took(sizer.size, sizer.size / 40_000)  # 40,000 rows/s
    assert sizer.size == 6_400  # 0.8 x 0.2 s x 40,000 rows/s
    sizer.took(6_400, 1.6)  # a slow batch (the machine got busy): 4,000 rows/s
    assert sizer.size == 640
    sizer.took(640, 0.016, waiting=True)
    assert sizer.size == 320
    for _ in range(20):
        sizer.took(sizer.size, 0.0001)
    assert sizer.size == 10_000  # the ceiling
    fixed = BatchSizer(ceiling=10_000, max_batch_s=None)
    fixed.took(10_000, 5.0)
    assert fixed.size == 10_000
