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
        "connections",
        "invalid_indexes",
        "redundant_indexes",
        "unindexed_foreign_keys",
        "unanalyzed_tables",
        "unused_indexes",
        "visibility",
        "wide_indexes",
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
