"""``# dbtune: allow=<rule>[,<rule>] because <reason>`` comments in a revision file.

A finding a team has weighed and accepted stays visible: the report shows it as allowed, with
the reason. The comments are read with :mod:`tokenize` (so a string that looks like one is not
one); a rule that does not exist, or an allow without a reason, is reported and allows nothing.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

_ALLOW = re.compile(r"^#\s*dbtune:\s*allow=(?P<rules>[\w,\s-]+?)(?:\s+because\s+(?P<why>.+))?$")


def read_allows(path: Path, known: set[str]) -> tuple[dict[str, str], list[str]]:
    """(rule -> reason, problems) from the comments of the revision at ``path``."""
    allows: dict[str, str] = {}
    problems: list[str] = []
    try:
        source = path.read_text()
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (OSError, SyntaxError, tokenize.TokenError) as exc:
        return {}, [f"{path.name}: allow comments not read ({exc})"]
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        match = _ALLOW.match(token.string.strip())
        if match is None:
            continue
        line = token.start[0]
        why = (match.group("why") or "").strip()
        rules = [r.strip() for r in match.group("rules").split(",") if r.strip()]
        if not why:
            problems.append(
                f"{path.name}:{line}: allow={','.join(rules)} has no reason "
                "(write `# dbtune: allow=<rule> because <reason>`); nothing allowed"
            )
            continue
        for rule in rules:
            if rule in known:
                allows[rule] = why
            else:
                problems.append(
                    f"{path.name}:{line}: no rule called {rule!r} (rules: "
                    f"{', '.join(sorted(known))}); nothing allowed"
                )
    return allows, problems
