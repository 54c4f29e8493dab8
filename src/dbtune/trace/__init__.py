"""``dbtune trace``: what every Alembic revision locks, rewrites and scans, measured.

:mod:`.runner` runs the chain one revision at a time on a scratch database (or one the user
names) and :mod:`.recorder` reads the server around every statement (:mod:`.observe`), parsed
with pglast (:mod:`.parsed`); :mod:`.rules` judge each revision's trace, one module per rule;
:mod:`.allows` reads the ``# dbtune: allow=`` comments; :mod:`.report` renders the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbtune.trace.record import RevisionTrace
from dbtune.trace.rules import Settings, registry
from dbtune.trace.runner import ChainTrace


@dataclass(frozen=True, slots=True)
class TraceFinding:
    rule: str
    revision: str
    statement: int  # its number in the revision's trace (0: the revision as a whole)
    subject: str
    message: str
    safer: str
    allowed: str | None = None  # the reason from the revision's allow comment


def findings(revision: RevisionTrace, settings: Settings) -> list[TraceFinding]:
    """Every rule over one revision's trace, allowed ones marked with their reason."""
    found = []
    for rule, check in registry().items():
        for hit in check(revision, settings):
            found.append(
                TraceFinding(
                    rule, revision.revision, hit.statement, hit.subject, hit.message,
                    hit.safer, revision.allows.get(rule),
                )
            )  # fmt: skip
    return sorted(found, key=lambda f: (f.statement, f.rule))


@dataclass(frozen=True, slots=True)
class TraceReport:
    chain: ChainTrace
    findings: dict[str, list[TraceFinding]]  # by revision

    @property
    def errored(self) -> bool:
        return any(r.error for r in self.chain.revisions)

    @property
    def failed(self) -> bool:
        return any(f.allowed is None for found in self.findings.values() for f in found)


def judge(chain: ChainTrace, settings: Settings) -> TraceReport:
    return TraceReport(chain, {r.revision: findings(r, settings) for r in chain.revisions})
