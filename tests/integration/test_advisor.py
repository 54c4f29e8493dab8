"""The advisor on an application nobody here wrote: tests/foreign_app (the shop).

Its own Alembic chain and ``alembic_version``, SQLAlchemy models with varchar columns and
mixed-case names in the non-public schema ``"Shop"``, 100k orders and no index on the hot
path. The loop under test: explain fails with true hints; the advisor suggests exactly the
composite index; the what-if shows it passing; ``dbtune revision`` writes it into an ops
chain (``dbtune init-ops``) that applies online while a writer inserts; the shop's own
``alembic current`` and ``upgrade head`` still work; explain then passes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.foreign_app import app as shop
from tests.integration.helpers import run_cli

COMPOSITE = 'CREATE INDEX CONCURRENTLY "ix_Orders_customerId_createdAt" ON "Shop"."Orders" ("customerId", "createdAt" DESC, id);'  # noqa: E501
CLAIM = 'CREATE INDEX CONCURRENTLY "ix_Orders_customerId_status_createdAt" ON "Shop"."Orders" ("customerId", status, "createdAt");'  # noqa: E501


def _explain(url: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli(
        "explain", "--dsn", url, "--workload", str(shop.WORKLOAD), "--format", "json", *extra
    )
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    return done.code, report, done.stderr


def _queries(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {q["name"]: q for q in report["queries"]}


def _hypopg_available(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'"
        ).fetchone()
    return bool(row and row[0])


def test_hints_are_true_and_the_suggestion_is_the_composite_index(shop_url: str) -> None:
    code, report, _ = _explain(shop_url)
    assert code == 1
    queries = _queries(report)
    text = json.dumps(report)
    assert "sargable" not in text  # varchar columns compared with strings are fine
    recent = queries["recent_orders"]
    failing = {c["id"] for c in recent["checks"] if c["status"] == "fail"}
    assert failing == {"uses_index", "no_sort", "no_seq_scan"}
    uses = next(c for c in recent["checks"] if c["id"] == "uses_index")
    assert "ix_Orders_customerId_createdAt, which does not exist" in uses["message"]
    advice = recent["advice"]
    assert advice["message"].startswith(
        "the expected index ix_Orders_customerId_createdAt does not exist."
    )
    assert advice["suggestion"]["sql"] == COMPOSITE
    assert advice["suggestion"]["include"] == []  # note is unbounded text: no index-only scan
    assert advice["what_if"] is None  # not asked for
    # The IN-list query gets the customerId index; the locking read is planned, not run, and
    # its suggestion puts the equality columns first, the most selective leading.
    assert queries["orders_of_customers"]["advice"]["suggestion"]["columns"] == ["customerId"]
    claim = queries["claim_order"]
    assert "locking read" in json.dumps(claim["checks"]) or claim["plan"] is not None
    assert claim["advice"]["suggestion"]["sql"] == CLAIM
    assert queries["customer_by_email"]["status"] == "pass"
    assert "advice" not in queries["customer_by_email"]


def test_what_if_by_a_rolled_back_build(shop_url: str) -> None:
    code, report, _ = _explain(shop_url, "--what-if=build")
    assert code == 1  # the what-if verifies; it does not change the database
    what_if = _queries(report)["recent_orders"]["advice"]["what_if"]
    assert what_if["engine"] == "build"
    assert what_if["passes"] is True
    assert set(what_if["before"]["failing"]) == {"uses_index", "no_sort", "no_seq_scan"}
    assert what_if["after"]["failing"] == []
    assert (
        "Incremental Sort > Index Scan using ix_Orders_customerId_createdAt"
        in (what_if["after"]["plan"])
    )
    assert what_if["after"]["buffers"] < what_if["before"]["buffers"]
    assert "SHARE lock" in what_if["note"]
    with psycopg.connect(shop_url) as conn:  # rolled back: nothing was left behind
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes").fetchall()}
    assert not any(n.startswith("ix_Orders") for n in names)


def test_what_if_without_hypopg_or_permission_says_why(shop_url: str) -> None:
    code, report, _ = _explain(shop_url, "--what-if")
    assert code == 1
    advice = _queries(report)["recent_orders"]["advice"]
    # Available or not, the extension is not created in this database: no lock-free engine,
    # and a real build on a server that is not the embedded one must be asked for.
    assert advice["what_if"] is None
    assert "No what-if: HypoPG is not installed here" in advice["message"]
    assert "--what-if=build" in advice["message"]


def test_what_if_by_hypopg(shop_url: str) -> None:
    if not _hypopg_available(shop_url):
        pytest.skip("HypoPG is not available on this server (Debian: postgresql-NN-hypopg)")
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION hypopg")
    code, report, _ = _explain(shop_url, "--what-if")
    assert code == 1
    what_if = _queries(report)["recent_orders"]["advice"]["what_if"]
    assert what_if["engine"] == "hypopg"
    assert what_if["passes"] is True, what_if
    assert what_if["after"]["cost"] < what_if["before"]["cost"]
    assert what_if["after"]["time_ms"] is None  # a hypothetical index is planned, not run


def _writer(url: str, stop: threading.Event, counts: list[int], errors: list[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                conn.execute(
                    'INSERT INTO "Shop"."Orders" VALUES (gen_random_uuid(), 1, %s, now(), 1, '
                    "'written during the build')",
                    ["open" if n % 2 else "paid"],
                )
                counts.append(n)
            except psycopg.Error as exc:  # pragma: no cover - reported by the assert
                errors.append(str(exc))
            time.sleep(0.005)


def test_revision_in_an_ops_chain_applies_online_beside_the_app(
    shop_url: str, tmp_path: Path
) -> None:
    _, report, _ = _explain(shop_url, "--what-if=build")
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(report))
    ops = tmp_path / "ops"
    done = run_cli("init-ops", str(ops))
    assert done.code == 0, done.stderr
    done = run_cli("revision", "--from", str(report_path), "--dir", str(ops / "versions"))
    assert done.code == 0, done.stderr
    written = sorted((ops / "versions").glob("*.py"))
    # The composite index also serves the IN-list query, so that suggestion is not written.
    assert len(written) == 2, [p.name for p in written]
    texts = [p.read_text() for p in written]
    composite = next(t for t in texts if "ix_Orders_customerId_createdAt" in t)
    assert '["customerId", "createdAt DESC", "id"]' in composite
    assert "recent_orders[default]" in composite
    assert "After: (build)" in composite
    assert "dbtune revision --from" in " ".join(composite.split())
    ruff = [sys.executable, "-m", "ruff"]
    for args in (["check", "--isolated"], ["format", "--check", "--isolated"]):
        lint = subprocess.run([*ruff, *args, *map(str, written)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr

    env = {"DATABASE_URL": shop_url}
    ini = str(ops / "alembic.ini")
    offline = run_cli("-c", ini, "upgrade", "head", "--sql", module="alembic", env=env)
    assert offline.code == 0, offline.stderr
    squawk = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    sql_file = tmp_path / "ops.sql"
    # Alembic's own CREATE TABLE of its version table (a varchar) is not ours to lint.
    ours = re.sub(r"CREATE TABLE dbtune_ops_version \(.*?\);\n", "", offline.stdout, flags=re.S)
    assert "CREATE INDEX CONCURRENTLY" in ours
    sql_file.write_text(ours)
    linted = subprocess.run([squawk, str(sql_file)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr

    stop, counts, errors = threading.Event(), list[int](), list[str]()
    writer = threading.Thread(target=_writer, args=(shop_url, stop, counts, errors))
    writer.start()
    try:
        time.sleep(0.2)
        before = len(counts)
        applied = run_cli("-c", ini, "upgrade", "head", module="alembic", env=env)
        during = len(counts) - before
    finally:
        stop.set()
        writer.join()
    assert applied.code == 0, applied.stderr
    assert not errors
    assert during > 0  # the writer kept inserting while the indexes built

    with psycopg.connect(shop_url) as conn:
        app_version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        ops_version = conn.execute("SELECT version_num FROM dbtune_ops_version").fetchall()
        valid = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
            "ON c.oid = i.indexrelid WHERE c.relname LIKE 'ix_Orders%'"
        ).fetchall()
    assert app_version == [(shop.HEAD,)]  # the application's chain is untouched
    assert len(ops_version) == 1
    assert ops_version[0][0] in " ".join(texts)
    assert sorted(valid) == [
        ("ix_Orders_customerId_createdAt", True),
        ("ix_Orders_customerId_status_createdAt", True),
    ]
    current = shop.alembic(shop_url, "current")
    assert current.returncode == 0, current.stderr
    assert shop.HEAD in current.stdout
    upgrade = shop.alembic(shop_url, "upgrade", "head")
    assert upgrade.returncode == 0, upgrade.stderr

    code, after, _ = _explain(shop_url)
    assert code == 0, json.dumps(after, indent=1)
    recent = _queries(after)["recent_orders"]
    no_sort = next(c for c in recent["checks"] if c["id"] == "no_sort")
    assert no_sort["status"] == "pass"
    assert "the index gives the ORDER BY" in no_sort["message"]

    down = run_cli("-c", ini, "downgrade", "base", module="alembic", env=env)
    assert down.code == 0, down.stderr
    with psycopg.connect(shop_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'ix_Orders%'"
        ).fetchone()
    assert left == (0,)


CAN_USE_WORKLOAD = """
[[query]]
name = "login"
sql = 'SELECT id FROM "Shop"."Customer" WHERE email = %(email)s'
params.email = "user7@example.com"
expect = { index = "ix_Customer_email" }

[[query]]
name = "notes_ending"
sql = "SELECT DISTINCT id FROM \\"Shop\\".\\"Orders\\" WHERE note LIKE '%%42'"
expect = { no_seq_scan = true }
"""


def test_can_use_takes_the_natural_plan_first(shop_url: str, tmp_path: Path) -> None:
    workload = tmp_path / "can_use.toml"
    workload.write_text(CAN_USE_WORKLOAD)
    done = run_cli(
        "explain", "--dsn", shop_url, "--workload", str(workload), "--can-use", "--format", "json"
    )
    queries = _queries(json.loads(done.stdout))
    assert queries["login"]["status"] == "pass"
    assert any("no planner setting was forced" in n for n in queries["login"]["notes"])
    # A leading wildcard: no index can serve it. The natural plan reads the table and fails;
    # forcing enable_seqscan=off walks the whole primary key for the DISTINCT instead (every
    # heap row in key order: about a hundred times the buffers), which is reported.
    notes = " ".join(queries["notes_ending"].get("notes", []))
    assert "worse than the natural one" in notes, json.dumps(queries["notes_ending"], indent=1)
    assert "the natural plan is" in notes
    assert "Seq Scan on Orders" in notes
    natural = run_cli("explain", "--dsn", shop_url, "--workload", str(workload), "--format", "json")
    ending = _queries(json.loads(natural.stdout))["notes_ending"]
    message = next(c["message"] for c in ending["checks"] if c["id"] == "no_seq_scan")
    assert "`note LIKE '%42'` is not sargable: the pattern starts with a wildcard" in message
    assert ending["advice"]["suggestion"] is None


RARE_AND_BROKEN = """
[[query]]
name = "unnoted"
sql = '''SELECT id, "createdAt" FROM "Shop"."Orders"
WHERE note IS NULL AND "customerId" = %(c)s ORDER BY "createdAt" DESC LIMIT 10'''
params.c = 1
expect = { no_seq_scan = true, no_sort = true }

[[query]]
name = "by_total"
sql = 'SELECT id FROM "Shop"."Orders" WHERE total = %(t)s'
params.t = 7
expect = { no_seq_scan = true }
"""


def _suggest(url: str, workload: Path) -> dict[str, dict[str, Any]]:
    done = run_cli("explain", "--dsn", url, "--workload", str(workload), "--format", "json")
    return _queries(json.loads(done.stdout))


def test_a_rare_constant_becomes_a_partial_index_and_the_printed_fix_works(
    shop_url: str, tmp_path: Path
) -> None:
    workload = tmp_path / "rare.toml"
    workload.write_text(RARE_AND_BROKEN)
    suggestion = _suggest(shop_url, workload)["unnoted"]["advice"]["suggestion"]
    assert suggestion["columns"] == ["customerId", "createdAt DESC"]
    assert suggestion["where"] == "note IS NULL"  # no order has a NULL note: 0 % of the rows
    assert suggestion["include"] == ["id"]
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute(suggestion["sql"])  # the fix exactly as printed
    assert _suggest(shop_url, workload)["unnoted"]["status"] == "pass"


def test_an_index_that_already_serves_is_not_suggested_again(shop_url: str, tmp_path: Path) -> None:
    """A failed CREATE INDEX CONCURRENTLY leaves an INVALID index the planner ignores: the
    advisor names it and its repair instead of proposing a twin."""
    workload = tmp_path / "broken.toml"
    workload.write_text(RARE_AND_BROKEN)
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute('CREATE INDEX "ix Orders total" ON "Shop"."Orders" (total)')
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass",
            ['"Shop"."ix Orders total"'],
        )
    advice = _suggest(shop_url, workload)["by_total"]["advice"]
    assert advice["suggestion"] is None
    message = advice["message"]
    assert 'no new index: "Shop"."ix Orders total" already serves' in message
    fix = message.split("it is INVALID (a failed build): ", 1)[1].split(",", 1)[0]
    assert fix == 'REINDEX INDEX CONCURRENTLY "Shop"."ix Orders total"'
    with psycopg.connect(shop_url, autocommit=True) as conn:
        conn.execute(fix)  # the repair exactly as printed
    assert _suggest(shop_url, workload)["by_total"]["status"] == "pass"


def test_a_what_if_that_cannot_lock_leaves_the_verdict_and_says_why(
    shop_url: str, tmp_path: Path
) -> None:
    """A writer's open transaction holds ROW EXCLUSIVE: the build's SHARE lock waits out
    lock_timeout. The query is still reported failing (not an error), its advice says why."""
    first = shop.WORKLOAD.read_text().split("[[query]]")[1]
    workload = tmp_path / "one.toml"
    workload.write_text(f"[[query]]{first}")
    with psycopg.connect(shop_url) as writer:
        writer.execute('LOCK TABLE "Shop"."Orders" IN ROW EXCLUSIVE MODE')
        done = run_cli("explain", "--dsn", shop_url, "--workload", str(workload),
                       "--what-if=build", "--format", "json")  # fmt: skip
        writer.rollback()
    code, report = done.code, json.loads(done.stdout)
    recent = _queries(report)["recent_orders"]
    assert code == 1
    assert recent["status"] == "fail"
    assert recent["advice"]["message"].startswith("no advice: the advisor could not finish")
    assert "lock" in recent["advice"]["message"]


def test_tool_dbtune_config_is_read_from_the_project(shop_url: str, tmp_path: Path) -> None:
    """The workload path, the DSN variable and the Seq Scan allow-list from pyproject.toml."""
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dbtune]\n"
        f'workload = "{shop.WORKLOAD}"\n'
        'dsn_env = "SHOP_DB"\n'
        'allow_seq_scan = ["Orders"]\n'
    )
    done = run_cli("explain", "--format", "json", env={"SHOP_DB": shop_url}, cwd=tmp_path)
    queries = _queries(json.loads(done.stdout))
    # The IN-list query reads Orders whole, which the project allows; the others still fail.
    assert queries["orders_of_customers"]["status"] == "pass"
    assert queries["recent_orders"]["status"] == "fail"


def test_suggestions_sharing_a_key_prefix_become_one_revision(
    seeded_url: str, tmp_path: Path
) -> None:
    """The reference schema without its covering index: five queries of three shapes ask for
    ``conversation_history (user_id, created_at DESC ...)``; one revision builds one index, ruff
    clean with the project's configuration and with none, and the workload then passes."""
    with psycopg.connect(seeded_url, autocommit=True) as conn:
        conn.execute("DROP INDEX ix_conversation_history_user_id_created_at")
    done = run_cli("explain", "--dsn", seeded_url, "--what-if=build", "--format", "json")
    assert done.code == 1, done.stderr
    report_path = tmp_path / "report.json"
    report_path.write_text(done.stdout)
    ops = tmp_path / "ops"
    assert run_cli("init-ops", str(ops)).code == 0
    done = run_cli("revision", "--from", str(report_path), "--dir", str(ops / "versions"))
    assert done.code == 0, done.stderr
    written = sorted((ops / "versions").glob("*.py"))
    assert len(written) == 1, [p.name for p in written]
    assert written[0].name.endswith("_ix_conversation_history_user_id_created_at.py")
    text = written[0].read_text()
    assert '["user_id", "created_at DESC"]' in text
    for query in ("recent_messages[heavy]", "message_listing[default]", "messages_since"):
        assert query in " ".join(text.split())
    ruff = [sys.executable, "-m", "ruff"]
    project = Path(__file__).resolve().parents[2] / "pyproject.toml"
    for config in (["--isolated"], ["--config", str(project)]):
        for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
            lint = subprocess.run([*ruff, *args, *config, str(written[0])],
                                  capture_output=True, text=True)  # fmt: skip
            assert lint.returncode == 0, (config, lint.stdout + lint.stderr)

    env = {"DATABASE_URL": seeded_url}
    ini = str(ops / "alembic.ini")
    applied = run_cli("-c", ini, "upgrade", "head", module="alembic", env=env)
    assert applied.code == 0, applied.stderr
    after = run_cli("explain", "--dsn", seeded_url, "--can-use", "--format", "json")
    assert after.code == 0, after.stdout
