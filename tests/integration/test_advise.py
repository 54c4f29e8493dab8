"""``dbtune advise``: one index design for the whole workload, on the reference schema with
every secondary index dropped and on the shop (a schema nobody here wrote: ``"Shop"``,
mixed-case names). The design makes every query pass, is smaller than the per-query advice,
has no prefix-redundant pair, leaves the database as it was, and its one revision is
ruff-clean and applies through an ops chain, after which ``explain`` passes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dbtune.design.solver import prefix_redundant
from dbtune.query.advice import Suggestion
from tests.foreign_app import app as shop
from tests.integration.helpers import run_cli, why_advise_failed

SHOP_WORKLOAD = Path(shop.__file__).with_name("workload.toml")


def _indexes(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "JOIN pg_class AS c ON c.oid = indrelid WHERE c.relnamespace::regnamespace::text "
            "NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1"
        ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def _drop_secondary(url: str) -> list[str]:
    """Every index that is neither unique nor a primary key: what the design must rebuild."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = [
            str(r[0]) for r in conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index JOIN pg_class AS c "
                "ON c.oid = indrelid WHERE c.relnamespace = 'public'::regnamespace "
                "AND NOT indisunique AND NOT indisprimary"
            )
        ]  # fmt: skip
        for name in names:
            conn.execute(f"DROP INDEX {name}")  # regclass text: quoted as needed
    return names


def _advise(url: str, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any], Path]:
    ops = tmp_path / "ops"
    assert run_cli("init-ops", str(ops)).code == 0
    before = _indexes(url)
    done = run_cli("advise", "--dsn", url, "--what-if", "build", "--format", "json",
                   "--write-revision", str(ops / "versions"), *extra)  # fmt: skip
    assert done.code in (0, 1), done.stdout + done.stderr
    assert _indexes(url) == before  # hypothetical or rolled back: nothing was left
    return done.code, json.loads(done.stdout), ops


def _chosen(design: dict[str, Any]) -> list[Suggestion]:
    return [
        Suggestion(c["schema"], c["table"], c["name"], tuple(c["columns"]), tuple(c["include"]),
                   c["where"])
        for c in design["candidates"] if c["chosen"]
    ]  # fmt: skip


def _apply_and_explain(url: str, ops: Path, *explain: str) -> None:
    (revision,) = sorted((ops / "versions").glob("*.py"))
    for args in (["check", "--isolated"], ["format", "--check", "--isolated"]):
        lint = subprocess.run([sys.executable, "-m", "ruff", *args, str(revision)],
                              capture_output=True, text=True)  # fmt: skip
        assert lint.returncode == 0, lint.stdout + lint.stderr
    env = {"DATABASE_URL": url}
    applied = run_cli("-c", str(ops / "alembic.ini"), "upgrade", "head", module="alembic", env=env)
    assert applied.code == 0, applied.stderr
    after = run_cli("explain", "--dsn", url, "--format", "json", *explain)
    assert after.code == 0, after.stdout
    down = run_cli("-c", str(ops / "alembic.ini"), "downgrade", "base", module="alembic", env=env)
    assert down.code == 0, down.stderr


def test_the_reference_schema_without_its_indexes(seeded_url: str, tmp_path: Path) -> None:
    dropped = _drop_secondary(seeded_url)
    assert len(dropped) >= 7
    without = _indexes(seeded_url)
    code, design, ops = _advise(seeded_url, tmp_path)
    assert code == 0, why_advise_failed(design)
    assert design["passed"]
    assert design["design_indexes"] < design["per_query_suggestions"]
    chosen = _chosen(design)
    assert not [(a.name, b.name) for a in chosen for b in chosen
                if a is not b and prefix_redundant(a, b)]  # fmt: skip
    assert {s.name for s in chosen} <= {n.removeprefix("public.") for n in dropped}
    assert design["solver"]["optimal"]
    assert design["cost_after"] < design["cost_before"] / 5
    _apply_and_explain(seeded_url, ops)
    ops_table = [i for i in _indexes(seeded_url) if i[0] == "dbtune_ops_version_pkc"]
    assert _indexes(seeded_url) == sorted([*without, *ops_table])  # the downgrade undid it


def test_the_shop(shop_url: str, tmp_path: Path) -> None:
    """Also: the design calls its index what the per-query advice (``explain``, whose
    suggestions ``dbtune revision`` writes) calls it."""
    explained = run_cli("explain", "--dsn", shop_url, "--workload", str(SHOP_WORKLOAD),
                        "--no-analyze", "--format", "json")  # fmt: skip
    advised = {
        q["advice"]["suggestion"]["name"]
        for q in json.loads(explained.stdout)["queries"]
        if q.get("advice") and q["advice"].get("suggestion")
    }
    code, design, ops = _advise(shop_url, tmp_path, "--workload", str(SHOP_WORKLOAD))
    assert code == 0, why_advise_failed(design)
    assert 1 <= design["design_indexes"] < design["per_query_suggestions"]
    chosen = _chosen(design)
    assert {s.name for s in chosen} <= advised, (advised, [s.name for s in chosen])
    assert all(s.schema == "Shop" for s in chosen)
    assert not [(a.name, b.name) for a in chosen for b in chosen
                if a is not b and prefix_redundant(a, b)]  # fmt: skip
    _apply_and_explain(shop_url, ops, "--workload", str(SHOP_WORKLOAD))


@pytest.mark.parametrize("limit", ["0"])
def test_limits_are_kept_and_said(seeded_url: str, tmp_path: Path, limit: str) -> None:
    _drop_secondary(seeded_url)
    code, design, _ = _advise(seeded_url, tmp_path, "--max-indexes-per-table", limit)
    assert code == 1  # the queries still fail, as the limit wants
    assert design["design_indexes"] == 0


def _with_hypopg(url: str) -> None:
    """HypoPG created in the test's database, or the test skipped where the server lacks it
    (CI's PostgreSQL 15 run has it)."""
    with psycopg.connect(url, autocommit=True) as conn:
        available = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'"
        ).fetchone()
        if not (available and available[0]):
            pytest.skip("HypoPG is not available on this server (Debian: postgresql-NN-hypopg)")
        conn.execute("CREATE EXTENSION hypopg")


def test_hypopg_gives_the_build_s_design(shop_url: str, tmp_path: Path) -> None:
    """The lock-free engine (CI's PostgreSQL 15 run has HypoPG) chooses the indexes the
    rolled-back builds chose, under the same names, and leaves no hypothetical index."""
    _with_hypopg(shop_url)
    workload = ["--workload", str(SHOP_WORKLOAD)]
    _, built, _ = _advise(shop_url, tmp_path / "build", *workload)
    done = run_cli("advise", "--dsn", shop_url, "--what-if", "hypopg", "--format", "json",
                   *workload)  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    hypothetical = json.loads(done.stdout)
    assert hypothetical["engine"] == "hypopg"
    assert [s.name for s in _chosen(hypothetical)] == [s.name for s in _chosen(built)]


def test_bad_input(shop_url: str, tmp_path: Path) -> None:
    """A statement that cannot be planned is listed and skipped; a lock-free engine asked for
    where there is none is one line, exit 2, with what to install."""
    workload = tmp_path / "w.toml"
    workload.write_text(
        SHOP_WORKLOAD.read_text()
        + '\n[[query]]\nname = "gone"\nsql = "SELECT * FROM \\"Shop\\".\\"Gone\\" WHERE id = 1"\n'
    )
    code, design, _ = _advise(shop_url, tmp_path, "--workload", str(workload))
    assert code == 0, why_advise_failed(design)
    (skipped,) = design["skipped"]
    assert skipped.startswith("gone[default]: ")
    assert "Gone" in skipped
    done = run_cli("advise", "--dsn", shop_url, "--what-if", "hypopg", "--workload",
                   str(SHOP_WORKLOAD))  # fmt: skip
    assert done.code == 2
    assert "HypoPG" in done.stderr
    assert "CREATE EXTENSION hypopg" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_redundant_index_no_plan_uses_is_dropped_with_its_undo(
    shop_url: str, tmp_path: Path
) -> None:
    """``(status)`` beside ``(status, total)``: doctor calls the first redundant, and no query
    of the workload uses it under the design, so with ``--propose-drops`` the revision drops
    it, saying whose it is; the other stays (no query uses it either, but doctor has nothing
    against it); the downgrade builds the dropped one again exactly. Without the flag the
    application's indexes are not touched."""
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute('CREATE INDEX "ix_Orders_status" ON "Shop"."Orders" (status)')
        conn.execute('CREATE INDEX "ix_Orders_status_total" ON "Shop"."Orders" (status, total)')
    before = _indexes(shop_url)
    _, unasked, _ = _advise(shop_url, tmp_path / "unasked", "--workload", str(SHOP_WORKLOAD))
    assert unasked["drops"] == []
    code, design, ops = _advise(shop_url, tmp_path, "--workload", str(SHOP_WORKLOAD),
                                "--propose-drops")  # fmt: skip
    assert code == 0, why_advise_failed(design)
    (drop,) = design["drops"]
    assert drop["index"] == "ix_Orders_status"
    assert drop["owner"] == "the application's"
    assert "redundant" in drop["why"] or "ix_Orders_status_total" in drop["why"]
    assert "drop_index_online(" in drop["call"]
    assert "'ix_Orders_status', 'Orders', ['status'], schema='Shop'" in drop["undo"]
    revision = next((ops / "versions").glob("*.py")).read_text()
    assert '"ix_Orders_status"' in revision
    _apply_and_explain(shop_url, ops, "--workload", str(SHOP_WORKLOAD))
    assert set(before) <= set(_indexes(shop_url))  # the downgrade built it again


def test_from_stats_weighs_captured_statements_by_their_calls(shop_url: str) -> None:
    """``--from-stats``: the statements the application ran, each weighted by its calls."""
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
        for customer in range(40):
            conn.execute('SELECT id, total FROM "Shop"."Orders" WHERE "customerId" = %s '
                         "ORDER BY id DESC LIMIT 5", [customer])  # fmt: skip
    done = run_cli("advise", "--dsn", shop_url, "--from-stats", "--what-if", "build",
                   "--format", "json")  # fmt: skip
    assert done.code in (0, 1), done.stdout + done.stderr
    design = json.loads(done.stdout)
    weights = {q["query"]: q["weight"] for q in design["queries"]}
    captured = [w for k, w in weights.items() if "orders" in k.lower()]
    assert 40 in captured, weights


def test_a_storage_budget_and_the_budget_curve(seeded_url: str, tmp_path: Path) -> None:
    """``--storage-budget`` bounds the new indexes' sizes (as the what-if built them), and
    ``--budget-curve`` gives the design at each budget from the same cost matrix: nothing at
    0, a relative cost that never rises with the budget, the budgeted design at its own
    point, and everything that helps when the budget is ample. The what-ifs are counted."""
    _drop_secondary(seeded_url)
    curve = "0kB,0.005x,0.02x,0.05x,10x"
    code, design, _ = _advise(seeded_url, tmp_path, "--storage-budget", "0.02x",
                              "--budget-curve", curve)  # fmt: skip
    assert code in (0, 1)
    assert design["what_if"]["calls"] >= len(design["candidates"])
    assert design["data_bytes"] > 0
    assert design["budget_bytes"] == int(0.02 * design["data_bytes"])
    assert 0 < design["design_bytes"] <= design["budget_bytes"]
    chosen = [c for c in design["candidates"] if c["chosen"]]
    assert all(c["estimated_bytes"] > 0 for c in chosen)
    points = design["budget_curve"]
    assert [p["budget_bytes"] for p in points] == sorted(p["budget_bytes"] for p in points)
    assert points[0]["indexes"] == []
    assert points[0]["relative_cost"] == 1.0
    for point in points:
        assert point["design_bytes"] <= point["budget_bytes"]
        assert point["design_bytes"] == sum(i["estimated_bytes"] for i in point["indexes"])
        assert all(i["definition"].startswith("CREATE INDEX") for i in point["indexes"])
    relative = [p["relative_cost"] for p in points]
    assert relative == sorted(relative, reverse=True)
    assert len(set(relative)) >= 3, relative  # the budgets bind: the curve has steps
    assert [i["name"] for i in points[2]["indexes"]] == [c["name"] for c in chosen]
    assert points[-1]["relative_cost"] < design["relative_cost"]
    shown = run_cli("advise", "--dsn", seeded_url, "--what-if", "build", "--format", "markdown",
                    "--budget-curve", "0kB,10x")  # fmt: skip
    assert "Budget curve" in shown.stdout, shown.stdout
    assert "| 0 B | 100.0% | 0 B | - |" in shown.stdout, shown.stdout
    wrong = run_cli("advise", "--dsn", seeded_url, "--storage-budget", "12 parsecs")
    assert wrong.code == 2
    assert "write a size (512MB, 1.5GB, 800kB) or a share" in wrong.stderr


@pytest.mark.parametrize("engine", ["build", "hypopg"])
def test_rerun_under_the_same_budget_after_applying_proposes_nothing(
    seeded_url: str, tmp_path: Path, engine: str
) -> None:
    """SPEC §11 under a storage budget: the indexes dbtune's ops chain built count against the
    budget on the next run (sized as the what-if sizes a candidate: the built file, or
    HypoPG's estimate of the same definition), so applying the design and asking again with
    the same budget proposes nothing more."""
    if engine == "hypopg":
        _with_hypopg(seeded_url)
    _drop_secondary(seeded_url)
    asked = ("--what-if", engine, "--storage-budget", "0.02x")
    _, design, ops = _advise(seeded_url, tmp_path, *asked)
    assert _chosen(design)
    assert design["existing_bytes"] == 0
    done = run_cli("-c", str(ops / "alembic.ini"), "upgrade", "head", module="alembic",
                   env={"DATABASE_URL": seeded_url})  # fmt: skip
    assert done.code == 0, done.stderr
    again = run_cli("advise", "--dsn", seeded_url, "--format", "json",
                    "--write-revision", str(ops / "versions"), *asked)  # fmt: skip
    assert again.code in (0, 1), again.stderr
    rerun = json.loads(again.stdout)
    chosen = [(c["name"], c["estimated_bytes"]) for c in rerun["candidates"] if c["chosen"]]
    assert rerun["design_indexes"] == 0, (chosen, rerun["existing_bytes"], rerun["budget_bytes"])
    assert rerun["existing_bytes"] == design["design_bytes"]  # sized as the first run sized them
    assert rerun["existing_bytes"] + rerun["design_bytes"] <= rerun["budget_bytes"]
    assert "no revision written" in again.stderr
