"""The commands' Python API (``dbtune.commands``), called as a user's script calls it: an
options record in, the tool's report out, no argparse and no subprocess."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dbtune.commands import advise, doctor, explain, fleet, pool, stats, trace
from dbtune.doctor import DoctorOptions
from dbtune.workload import load_workload, parse_workload
from tests.integration.test_fleet import chain  # noqa: F401  (the two-revision chain fixture)

ONE_QUERY = """
[[query]]
name = "by_kind"
sql = 'SELECT id FROM "Api Events" WHERE kind = %(kind)s'
params.kind = "k7"
expect = { no_seq_scan = true }
"""


def _api_events(url: str, schema: str = "public", rows: int = 20_000) -> None:
    """A mixed-case table of ``rows`` events over 500 kinds, analyzed, with no index."""
    table = sql.Identifier(schema, "Api Events")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, kind text)").format(table))
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT g, 'k' || g %% 500 FROM generate_series(1, %s) g"
            ).format(table),
            [rows],
        )
        conn.execute(sql.SQL("ANALYZE {}").format(table))


def test_explain_run_returns_the_report_with_the_advisors_suggestion(empty_url: str) -> None:
    _api_events(empty_url)
    workload = parse_workload(ONE_QUERY)
    report = explain.run(explain.ExplainOptions(empty_url, workload, analyze=False))
    (result,) = report.results
    assert result.key == "by_kind[default]"
    assert result.status == "fail"
    assert result.advice is not None
    assert result.advice.suggestion is not None
    assert result.advice.suggestion.columns[0] == "kind"
    assert '"by_kind"' in explain.render_json(report)


def test_advise_run_designs_measures_and_proves_one_index(empty_url: str) -> None:
    _api_events(empty_url)
    workload = parse_workload(ONE_QUERY)
    design = advise.run(advise.AdviseOptions(empty_url, workload, engine="build", embedded=True))
    (chosen,) = design.chosen
    assert (chosen.suggestion.table, chosen.suggestion.columns[0]) == ("Api Events", "kind")
    assert design.passed
    assert design.measured is not None
    assert design.measured["by_kind[default]"].verdict == "faster"
    assert "Api Events" in advise.render_markdown(design)


def test_doctor_and_pool_recommend(seeded_url: str) -> None:
    report = doctor.run(seeded_url, DoctorOptions(instances=2))
    assert report.outcomes
    assert {o.id for o in report.outcomes} >= {"connections"}
    facts, budget = pool.recommend(seeded_url, instances=2)
    assert budget is not None
    assert budget.max_connections > 0
    assert facts["instances"] == 2


def test_fleet_api_upgrades_checks_and_groups_tenants(
    empty_url: str,
    chain: Path,  # noqa: F811
) -> None:
    for schema in ("tenant_a", "tenant_b"):
        _api_events(empty_url, schema, rows=2000)
    named = fleet.targets(fleet.FleetTargets(schemas="tenant_%", url=empty_url))
    assert [t.schema for t in named] == ["tenant_a", "tenant_b"]
    head, outcomes = fleet.upgrade(fleet.UpgradeOptions(chain, parallel=2), named)
    assert [o.result for o in outcomes] == ["upgraded", "upgraded"]
    _, status = fleet.status(chain, named)
    assert set(status.revisions.values()) == {head.head}
    assert status.drift == {}
    workload = parse_workload(ONE_QUERY)
    (group,) = fleet.explain(named, workload, parallel=2)
    assert group.kind == "by_kind[default] no_seq_scan"
    assert group.targets == ("tenant_a", "tenant_b")
    found = fleet.doctor(named)
    assert all(set(g.targets) <= {"tenant_a", "tenant_b"} for g in found)


def test_trace_api_traces_a_chain_on_a_database_it_is_given(
    empty_url: str,
    chain: Path,  # noqa: F811
) -> None:
    selected = trace.select(trace.TraceRequest(trace.TraceOptions(ini=chain), url=empty_url))
    assert not selected.embedded
    assert selected.options.rows == 0
    traced = trace.run(selected)
    assert [r.revision for r in traced.chain.revisions] == ["f01_items", "f02_owner"]
    assert trace.as_results(traced.report).exit_code == 0


def test_one_statistics_file_for_explain(seeded_url: str, tmp_path: Path) -> None:
    with psycopg.connect(seeded_url) as conn:
        if conn.info.server_version < 180000:
            pytest.skip("pg_restore_*_stats is PostgreSQL 18's")
    path = tmp_path / "stats.json"
    stats.write(path, stats.export(seeded_url))
    said: list[str] = []
    statistics = stats.StatsFile(str(path), said.append)
    report = explain.run(
        explain.ExplainOptions(seeded_url, load_workload(), analyze=False, stats=statistics)
    )
    assert report.results
    assert any(line.startswith("planning with the statistics of") for line in said)
