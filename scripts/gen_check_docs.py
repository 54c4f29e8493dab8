"""Write docs/checks/<id>.md (plan checks), docs/doctor/<id>.md (doctor findings) and
docs/trace/<id>.md (trace rules).

    python scripts/gen_check_docs.py

The pages are rendered from the modules' docstrings; unit tests compare them with this output,
so run it after changing a check or a finding.
"""

from __future__ import annotations

from pathlib import Path

from dbtune import checks, doctor
from dbtune.checks._docs import render_page
from dbtune.trace import rules

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    for folder, package, ids in (
        ("checks", "dbtune.checks", set(checks.registry())),
        ("doctor", "dbtune.doctor.findings", set(doctor.registry())),
        ("trace", "dbtune.trace.rules", set(rules.registry())),
    ):
        target = DOCS / folder
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*.md"):
            if stale.stem not in ids:
                stale.unlink()
        for check_id in sorted(ids):
            (target / f"{check_id}.md").write_text(render_page(check_id, package))
        print(f"wrote {len(ids)} pages to {target}")


if __name__ == "__main__":
    main()
