"""The documentation page of each check, rendered from its docstring.

``python scripts/gen_check_docs.py`` writes ``docs/checks/<id>.md``; a unit test fails when a
page is missing, stale or orphaned, so the pages and the code cannot drift apart.
"""

from __future__ import annotations

import importlib
import textwrap

from dbtune.workload import Expectations


def enabled_by(check_id: str) -> str | None:
    """The "Enable" line of a check's page, from the keys its module declares."""
    module = importlib.import_module(f"dbtune.checks.{check_id}")
    keys: tuple[str, ...] = getattr(module, "ENABLED_BY", ())
    if not keys:
        return None
    known = Expectations.keys()
    spelled = [f"expect.{key} = {known[key]['example']}" for key in keys]
    note = getattr(module, "ENABLE_NOTE", None)
    return "; ".join([note, *spelled] if note else spelled)


def render_page(check_id: str, package: str = "dbtune.checks") -> str:
    """The Markdown page of a plan check (or of a doctor finding, from its package)."""
    doc = importlib.import_module(f"{package}.{check_id}").__doc__ or ""
    summary, _, body = doc.strip().partition("\n\n")
    title = summary.split(":", 1)[1].strip()
    paragraphs = textwrap.dedent(body).strip().replace("\n", " ")
    for label in ("Problem:", "Evidence:", "Fix:"):
        paragraphs = paragraphs.replace(f" {label}", f"\n\n**{label[:-1]}.**")
    paragraphs = paragraphs.replace("Problem:", "**Problem.**", 1)
    folder = package.replace(".", "/")
    keys = enabled_by(check_id) if package == "dbtune.checks" else None
    enable = f"Enable: `{keys}`\n\n" if keys else ""
    return (
        f"# {check_id}\n\n"
        f"<!-- generated from the docstring of src/{folder}/{check_id}.py "
        "by scripts/gen_check_docs.py -->\n\n"
        f"{title[0].upper() + title[1:]}\n\n"
        f"{enable}{paragraphs}\n"
    )
