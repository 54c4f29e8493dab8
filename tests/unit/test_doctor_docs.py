"""Each doctor module documents its finding, and its page is current."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from dbtune.checks._docs import render_page
from dbtune.doctor import registry

DOCS = Path(__file__).parents[2] / "docs" / "doctor"


def test_registry_is_built_from_the_modules() -> None:
    assert set(registry()) == {
        "array_btree_indexes",
        "boolean_indexes",
        "char_columns",
        "connections",
        "duplicated_foreign_keys",
        "foreign_key_type_mismatch",
        "index_bloat",
        "int4_key_overflow",
        "intersected_foreign_keys",
        "intersected_indexes",
        "invalid_indexes",
        "json_columns",
        "name_overflow",
        "not_valid_constraints",
        "null_heavy_indexes",
        "redundant_indexes",
        "sequence_overflow",
        "stale_statistics",
        "table_bloat",
        "tables_with_missing_indexes",
        "tables_without_primary_key",
        "timestamp_in_index_middle",
        "timestamp_without_time_zone",
        "unanalyzed_tables",
        "unindexed_foreign_keys",
        "unlogged_tables",
        "unused_indexes",
        "visibility",
        "wide_indexes",
        "xid_wraparound",
    }
    assert {p.stem for p in DOCS.glob("*.md")} == set(registry())


@pytest.mark.parametrize("finding_id", sorted(registry()))
def test_docstring_and_page(finding_id: str) -> None:
    doc = importlib.import_module(f"dbtune.doctor.findings.{finding_id}").__doc__ or ""
    assert doc.startswith(f"{finding_id}:")
    for word in ("Problem", "Evidence", "Fix"):
        assert word in doc, (finding_id, word)
    page = (DOCS / f"{finding_id}.md").read_text()
    assert page == render_page(finding_id, "dbtune.doctor.findings"), (
        "run scripts/gen_check_docs.py"
    )
