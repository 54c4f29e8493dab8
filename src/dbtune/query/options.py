"""How a query is planned: the options one explain run applies to every query of it.

In the core, so the tools that plan through explain (the design tool, by the planner a command
hands it) and those that call it (the commands, ``assert_plan``, the pytest plugin) name the
same record.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbtune.checks import SEQ_SCAN_ROW_THRESHOLD

STATEMENT_TIMEOUT_MS = 30_000
WILL_USE, CAN_USE = "will-use", "can-use"
CAN_REACH = "can-reach"
"""Sequential scans off and nothing else: does any index reach the rows the query filters?
The pytest plugin's forced mode. Its findings are Seq Scans only, so switching sorts off too
would only let the forced plan's quirks (a whole index walked for its order) become findings,
and flaky ones: which disabled plan wins then hangs on the test data's statistics."""


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """The CLI's flags for one run, the same for each of its queries."""

    analyze: bool = True  # EXPLAIN ANALYZE (executed, rolled back) or plans only
    mode: str = WILL_USE  # or CAN_USE / CAN_REACH: planner settings forced where it fails
    allow_writes: bool = False  # execute writes too (still rolled back)
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS
    seq_scan_rows: float = SEQ_SCAN_ROW_THRESHOLD
    allow_seq_scan: frozenset[str] = frozenset()
    with_facts: bool = False  # read the catalog's facts even when every check passes


DEFAULT_OPTIONS = PlanOptions()
PLANS_ONLY = PlanOptions(analyze=False)
