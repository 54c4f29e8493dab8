"""Each trace rule documents itself and has a current page; allow comments are read exactly."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from dbtune.checks._docs import render_page
from dbtune.trace.allows import read_allows
from dbtune.trace.parsed import create_index_call, parse
from dbtune.trace.rules import registry

DOCS = Path(__file__).parents[2] / "docs" / "trace"


def test_twelve_rules_each_with_a_page() -> None:
    assert len(registry()) >= 12
    assert {p.stem for p in DOCS.glob("*.md")} == set(registry())


@pytest.mark.parametrize("rule", sorted(registry()))
def test_docstring_and_page(rule: str) -> None:
    doc = importlib.import_module(f"dbtune.trace.rules.{rule}").__doc__ or ""
    assert doc.startswith(f"{rule}:")
    for word in ("Problem", "Evidence", "Fix"):
        assert word in doc, (rule, word)
    page = (DOCS / f"{rule}.md").read_text()
    assert page == render_page(rule, "dbtune.trace.rules"), "run scripts/gen_check_docs.py"


def test_allow_comments(tmp_path: Path) -> None:
    revision = tmp_path / "r.py"
    revision.write_text(
        "# dbtune: allow=table_rewrite,rename_in_use because the table has 12 rows\n"
        "# dbtune: allow=check_validated\n"
        "# dbtune: allow=no_such_rule because why not\n"
        'NOTE = "# dbtune: allow=lock_without_timeout because a string is no comment"\n'
    )
    allows, problems = read_allows(revision, set(registry()))
    assert allows == {
        "table_rewrite": "the table has 12 rows",
        "rename_in_use": "the table has 12 rows",
    }
    assert len(problems) == 2
    assert "r.py:2: allow=check_validated has no reason" in problems[0]
    assert "no rule called 'no_such_rule'" in problems[1]


def test_the_printed_create_index_call_keeps_the_index() -> None:
    (node,) = parse(
        'CREATE UNIQUE INDEX "ix_A" ON "S"."Orders" ("customerId", "createdAt" DESC) '
        "INCLUDE (total) WHERE status = 'open'"
    )
    assert create_index_call(node) == (  # type: ignore[arg-type]
        "create_index_online('ix_A', 'Orders', ['customerId', 'createdAt DESC'], "
        "include=['total'], where=\"status = 'open'\", unique=True, schema='S')"
    )
