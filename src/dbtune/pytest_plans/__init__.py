"""What ``pytest --dbtune-plans`` runs (:mod:`dbtune.pytest_plugin` imports it only when the
option is given, so a plain pytest run pays nothing for it).

With ``--dbtune-plans`` the plugin watches what the tests send through
psycopg 3, psycopg2, asyncpg and SQLAlchemy, and plans each *distinct* statement (pglast's
fingerprint: the same statement with other values is the same one) the first time it is seen,
with the values it was sent with:

- on the same connection and transaction for psycopg 3 (and SQLAlchemy over it), inside a
  savepoint that is rolled back — so it sees the test's own rows, and a test database that
  is dropped after each test is no obstacle (planning at the end of the session, as one might
  expect, would find most test databases gone);
- on a psycopg 3 connection of the plugin's own for the other drivers (committed data only).

Plans are made, never executed (writes included): the natural plan first, and only when it
fails (test tables are small, so it often is a Seq Scan) again with ``enable_seqscan = off`` and
nothing else forced — a forced sort or bitmap setting made the forced plan's quirks into false
and flaky findings. A Seq Scan that survives ``enable_seqscan = off`` on a table the query
filters (any condition on that table alone: a function, a leading-wildcard LIKE, an OR) means
no index can serve it, whatever the table's size. A table the query reads whole (no condition
on it but joins) is not held against it. Allowed: the tables
of ``[tool.dbtune] allow_seq_scan``, and any query with the comment ``/* dbtune:
allow-seq-scan */``. The terminal summary lists each flagged statement with its tables, plan,
failed checks and the advisor's suggested index; ``--dbtune-plans-report PATH`` writes JSON
(or JUnit XML for ``.xml``); ``--dbtune-plans=strict`` fails the session on a finding;
``--dbtune-write-workload PATH`` saves what was seen as a workload with baseline expectations.

Layout: :mod:`.recorder` (what a statement is, its plan), :mod:`.drivers` (the patches and the
import hook), :mod:`.report` (summary, JSON/JUnit, workload file), :mod:`.plugin` (the pytest
hooks).
"""

from __future__ import annotations

from dbtune.pytest_plans.recorder import ALLOW_MARKER, PlanRecorder, Seen

__all__ = ["ALLOW_MARKER", "PlanRecorder", "Seen"]
