"""The documentation page of each check, rendered from its docstring.

``python scripts/gen_check_docs.py`` writes ``docs/checks/<id>.md``; a unit test fails when a
page is missing, stale or orphaned, so the pages and the code cannot drift apart.
"""

from __future__ import annotations

import importlib
import textwrap

from dbtune.workload import Expectations

# Which workload key turns each check on, for the page's "Enable" line.
ENABLED_BY = {
    "uses_index": 'expect.index = "ix_name"',
    "index_only": "expect.index_only = true",
    "heap_fetches": "expect.max_heap_fetches = 0",
    "no_sort": "expect.no_sort = true",
    "no_seq_scan": "on by default for tables above 10,000 rows; expect.no_seq_scan = true|false",
    "filter_ratio": "expect.max_filter_ratio = 0.1",
    "buffers": "expect.max_buffers = 50",
    "generic_plan": "expect.generic_plan = true",
}
assert all(
    key.split("=")[0].strip().split(".")[-1] in Expectations.__dataclass_fields__
    for key in ENABLED_BY.values()
    if key.startswith("expect.")
)


def render_page(check_id: str, package: str = "dbtune.checks") -> str:
    """The Markdown page of a plan check (or, with ``package="dbtune.doctor"``, a finding)."""
    doc = importlib.import_module(f"{package}.{check_id}").__doc__ or ""
    summary, _, body = doc.strip().partition("\n\n")
    title = summary.split(":", 1)[1].strip()
    paragraphs = textwrap.dedent(body).strip().replace("\n", " ")
    for label in ("Problem:", "Evidence:", "Fix:"):
        paragraphs = paragraphs.replace(f" {label}", f"\n\n**{label[:-1]}.**")
    paragraphs = paragraphs.replace("Problem:", "**Problem.**", 1)
    folder = package.replace(".", "/")
    enable = f"Enable: `{ENABLED_BY[check_id]}`\n\n" if check_id in ENABLED_BY else ""
    return (
        f"# {check_id}\n\n"
        f"<!-- generated from the docstring of src/{folder}/{check_id}.py "
        "by scripts/gen_check_docs.py -->\n\n"
        f"{title[0].upper() + title[1:]}\n\n"
        f"{enable}{paragraphs}\n"
    )
