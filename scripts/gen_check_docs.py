"""Write docs/checks/<id>.md for every plan check, from the checks' docstrings.

    python scripts/gen_check_docs.py

A unit test compares the pages with this output, so run it after changing a check.
"""

from __future__ import annotations

from pathlib import Path

from dbtune.checks import registry
from dbtune.checks._docs import render_page

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks"


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    wanted = set(registry())
    for stale in DOCS.glob("*.md"):
        if stale.stem not in wanted and stale.name != "README.md":
            stale.unlink()
    for check_id in sorted(wanted):
        (DOCS / f"{check_id}.md").write_text(render_page(check_id))
    print(f"wrote {len(wanted)} pages to {DOCS}")


if __name__ == "__main__":
    main()
