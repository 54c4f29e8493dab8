"""``dbtune trace`` on real servers: a chain with one revision per rule that breaks it and one
that does the same job safely (mixed-case names, a schema of its own, varchar columns, its own
version table), dbtune's own chain, the CLI's gates, and a revision that fails.

To accept a change of the report snapshot:
``DBTUNE_UPDATE_SNAPSHOTS=1 python -m pytest tests/integration/test_trace.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from psycopg import sql

from dbtune.results import render_markdown
from dbtune.trace import TraceReport, judge
from dbtune.trace.report import as_results
from dbtune.trace.rules import Settings, registry
from dbtune.trace.runner import TraceOptions, trace_chain
from tests.integration.helpers import REPO, fresh_database, run_cli
from tests.servers import Server

CHAIN = REPO / "tests" / "trace_chain"
INI = CHAIN / "alembic.ini"
SNAPSHOT = REPO / "tests" / "unit" / "snapshots" / "trace-report.md"
VERSION_TABLE = "app_version"


@pytest.fixture(scope="module")
def fixture_trace(pg_server: Server) -> tuple[TraceReport, str]:
    url = fresh_database(pg_server, "trace_fixture_chain")
    chain = trace_chain(url, TraceOptions(ini=INI, rows=2000, version_table=VERSION_TABLE))
    return judge(chain, Settings()), url


def _expected() -> dict[str, str | None]:
    script = ScriptDirectory.from_config(Config(str(INI)))
    return {s.revision: s.module.EXPECTED for s in script.walk_revisions()}


def test_each_rule_flags_exactly_its_revision_and_no_safe_one(
    fixture_trace: tuple[TraceReport, str],
) -> None:
    report, _ = fixture_trace
    expected = _expected()
    assert [r.revision for r in report.chain.revisions] == sorted(expected)
    assert not [r.error for r in report.chain.revisions if r.error]
    flagged = {rev: sorted({f.rule for f in found}) for rev, found in report.findings.items()}
    assert flagged == {rev: [rule] if rule else [] for rev, rule in expected.items()}
    # every rule has its bad revision in the chain
    assert {rule for rule in expected.values() if rule} == set(registry())


def test_an_allow_comment_keeps_the_finding_visible_with_its_reason(
    fixture_trace: tuple[TraceReport, str],
) -> None:
    report, _ = fixture_trace
    allowed = report.findings["t13_allowed"]
    assert [(f.rule, f.allowed) for f in allowed] == [
        ("table_rewrite", "the table is tiny in production")
    ]
    unallowed = [f for rev, found in report.findings.items() if rev != "t13_allowed" for f in found]
    assert all(f.allowed is None for f in unallowed)
    results = as_results(report)
    section = next(s for s in results.sections if s.name.startswith("t13_allowed"))
    assert section.status == "skip"
    assert "allowed: the table is tiny in production" in section.outcomes[0].message


def _statement(report: TraceReport, revision: str, kind: str):  # type: ignore[no-untyped-def]
    trace = next(r for r in report.chain.revisions if r.revision == revision)
    return next(s for s in trace.work() if kind in s.kinds)


def test_the_trace_records_what_the_server_did(fixture_trace: tuple[TraceReport, str]) -> None:
    report, url = fixture_trace
    rewrite = _statement(report, "t01_rewrite", "AlterTableStmt")
    assert '"App"."Invoice"' in [r.name for r in rewrite.rewritten]
    assert ("AccessExclusiveLock", '"App"."Invoice"') in {
        (k.mode, k.relation.name) for k in rewrite.locks
    }
    assert rewrite.lock_timeout == "2s"

    no_rewrite = next(r for r in report.chain.revisions if r.revision == "t01_rewrite_safe")
    assert not [r for s in no_rewrite.statements for r in s.rewritten if r.kind == "r"]

    fk = _statement(report, "t04_foreign_key", "AlterTableStmt")
    assert {(s.relation.name, s.rows) for s in fk.scanned} == {
        ('"App"."Invoice"', 2000),
        ('"App"."Account"', 2000),
    }
    assert {k.relation.name for k in fk.locks if k.mode == "ShareRowExclusiveLock"} == {
        '"App"."Invoice"',
        '"App"."Account"',
    }

    # SET NOT NULL after a validated CHECK: the server skips the scan (PostgreSQL 12+)
    safe = next(r for r in report.chain.revisions if r.revision == "t06_not_null_safe")
    set_not_null = [s for s in safe.work() if "SET NOT NULL" in s.sql]
    assert set_not_null
    assert not set_not_null[0].scanned
    bad = _statement(report, "t06_not_null", "AlterTableStmt")
    assert [(s.relation.name, s.rows) for s in bad.scanned] == [('"App"."Invoice"', 2000)]

    held = _statement(report, "t09_held", "AlterTableStmt")
    assert held.held_ms > 0

    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT version_num FROM {}").format(sql.Identifier(VERSION_TABLE))
        ).fetchone()
    assert row == ("t13_allowed",)


def _normalised(text: str) -> str:
    """The report without what changes from run to run: timings, the server's path, and the
    statement count of the revision that backfills (its batches are sized by time)."""
    text = re.sub(r"\d[\d,.]* ms", "N ms", text)
    text = re.sub(r"(t12_mixed_safe \S+ \| plan \| \| `)\d+ statements", r"\1N statements", text)
    return re.sub(r"Target `[^`]*`", "Target `SERVER`", text)


def test_report_snapshot(fixture_trace: tuple[TraceReport, str]) -> None:
    report, url = fixture_trace
    with psycopg.connect(url) as conn:
        if conn.info.server_version // 10_000 != 18:
            pytest.skip("the snapshot is PostgreSQL 18's (the embedded server)")
    text = _normalised(render_markdown(as_results(report)))
    if os.environ.get("DBTUNE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text()


def test_dbtune_own_chain_traces_clean(pg_server: Server) -> None:
    url = fresh_database(pg_server, "trace_own_chain")
    chain = trace_chain(url, TraceOptions(ini=REPO / "alembic.ini", rows=500))
    report = judge(chain, Settings())
    assert len(chain.revisions) == 7
    assert not [r.error for r in chain.revisions if r.error]
    assert {rev: found for rev, found in report.findings.items() if found} == {}
    assert chain.notes == []  # every reference table got its rows


def _copy_chain(tmp_path: Path) -> Path:
    shutil.copytree(CHAIN, tmp_path / "chain", ignore=shutil.ignore_patterns("__pycache__"))
    ini = tmp_path / "chain" / "alembic.ini"
    ini.write_text(INI.read_text().replace("%(here)s/../..", str(REPO)))
    return ini


def test_cli_gates_ci_and_traces_only_what_a_branch_changed(
    pg_server: Server, tmp_path: Path
) -> None:
    ini = _copy_chain(tmp_path)
    versions = ini.parent / "versions"
    for late in sorted(versions.glob("*.py"))[3:]:
        late.unlink()  # the branch's base: the tables, one bad and one safe revision
    git = ["git", "-C", str(ini.parent), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    base = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    for name in ("03_t02_create_index.py", "04_t02_create_index_safe.py"):
        shutil.copy(CHAIN / "versions" / name, versions / name)

    url = fresh_database(pg_server, "trace_cli")
    done = run_cli(
        "trace", "--dsn", url, "-c", str(ini), "--changed-since", base, "--rows", "100",
        "--version-table", VERSION_TABLE, "--format", "json",
    )  # fmt: skip
    assert done.code == 1, done.stderr
    report = json.loads(done.stdout)
    assert [r["revision"] for r in report["revisions"]] == [
        "t02_create_index",
        "t02_create_index_safe",
    ]
    assert report["applied_untraced"] == ["t00_base", "t01_rewrite", "t01_rewrite_safe"]
    assert [f["rule"] for f in report["revisions"][0]["findings"]] == ["create_index_blocking"]
    assert report["revisions"][0]["findings"][0]["safer"] == (
        "create_index_online('ix_Invoice_accountId', 'Invoice', ['accountId'], schema='App')"
    )
    password = pg_server.password
    if password:
        assert password not in done.stdout + done.stderr

    again = run_cli("trace", "--dsn", url, "-c", str(ini), "--version-table", VERSION_TABLE)
    assert again.code == 0, again.stderr  # nothing pending: nothing to flag


def test_a_failing_revision_exits_2_and_keeps_what_was_traced(
    pg_server: Server, tmp_path: Path
) -> None:
    ini = _copy_chain(tmp_path)
    versions = ini.parent / "versions"
    for late in sorted(versions.glob("*.py"))[4:]:
        late.unlink()
    broken = (CHAIN / "versions" / "03_t02_create_index.py").read_text()
    broken = broken.replace('["accountId"]', '["noSuchColumn"]')
    (versions / "03_t02_create_index.py").write_text(broken)
    url = fresh_database(pg_server, "trace_failing")
    done = run_cli("trace", "--dsn", url, "-c", str(ini), "--format", "json")
    assert done.code == 2
    assert "revision t02_create_index failed" in done.stderr
    assert "noSuchColumn" in done.stderr
    report = json.loads(done.stdout)
    assert [(r["revision"], r["status"]) for r in report["revisions"]] == [
        ("t00_base", "pass"), ("t01_rewrite", "fail"), ("t01_rewrite_safe", "pass"),
        ("t02_create_index", "error"),
    ]  # fmt: skip
    assert "Traceback" not in done.stderr


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = run_cli("trace", "-c", str(tmp_path / "nope.ini"))
    assert missing.code == 2
    assert "no Alembic configuration at" in missing.stderr
    assert "Traceback" not in missing.stderr
    unreachable = run_cli("trace", "--dsn", "postgresql://u:s3cret@127.0.0.1:9/x", "-c", str(INI))
    assert unreachable.code == 2
    assert "s3cret" not in unreachable.stderr
    assert "Traceback" not in unreachable.stderr


SETTINGS_TABLE = '''"""A settings table whose payload is JSON kept in text.

Revision ID: s01_settings
Revises: t00_base
"""

import sqlalchemy as sa
from alembic import op

revision = "s01_settings"
down_revision = "t00_base"
EXPECTED = None


def upgrade() -> None:
    op.create_table(
        "Setting",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("Payload", sa.Text, nullable=False),
        schema="App",
    )
'''

JSON_DATA_MIGRATION = '''"""Each setting gains a version key: a data change parsing text as JSON.

Revision ID: s02_version_key
Revises: s01_settings
"""

from alembic import op

revision = "s02_version_key"
down_revision = "s01_settings"
EXPECTED = None


def upgrade() -> None:
    op.execute(
        \'UPDATE "App"."Setting" SET "Payload" = ("Payload"::jsonb || \\'{"v": 2}\\')::text\'
    )
'''

BROKEN = '''"""A data change with a typo: the chain's own bug.

Revision ID: s03_broken
Revises: s02_version_key
"""

from alembic import op

revision = "s03_broken"
down_revision = "s02_version_key"
EXPECTED = None


def upgrade() -> None:
    op.execute(\'UPDATE "App"."Setting" SET "Payloads" = \\'{}\\'\')
'''


def test_synthetic_rows_are_not_blamed_on_the_revision(pg_server: Server, tmp_path: Path) -> None:
    """A revision that fails on dbtune's rows ('v' || g is no JSON) is traced again on its
    tables as they were and said to fail on synthetic rows only; one that fails without them
    too is the chain's own bug."""
    ini = _copy_chain(tmp_path)
    versions = ini.parent / "versions"
    for late in sorted(versions.glob("*.py"))[1:]:
        late.unlink()
    (versions / "s01_settings.py").write_text(SETTINGS_TABLE)
    (versions / "s02_version_key.py").write_text(JSON_DATA_MIGRATION)
    url = fresh_database(pg_server, "trace_synthetic")
    done = run_cli("trace", "--dsn", url, "-c", str(ini), "--rows", "50", "--format", "json")
    assert done.code in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert [r["revision"] for r in report["revisions"]] == [
        "t00_base", "s01_settings", "s02_version_key"
    ]  # fmt: skip
    assert all(r["status"] != "error" for r in report["revisions"])
    (note,) = [n for n in report["notes"] if "s02_version_key" in n]
    assert "fails on dbtune's synthetic rows" in note
    assert "invalid input syntax for type json" in note

    (versions / "s03_broken.py").write_text(BROKEN)
    url = fresh_database(pg_server, "trace_synthetic_broken")
    done = run_cli("trace", "--dsn", url, "-c", str(ini), "--rows", "50", "--format", "json")
    assert done.code == 2
    assert "revision s03_broken failed" in done.stderr
    assert "Payloads" in done.stderr
    assert "the chain's own bug" in done.stderr
    assert "Traceback" not in done.stderr

    # Right after the table is filled: it fails on dbtune's rows, again without them, and so
    # is the chain's own bug too.
    (versions / "s02_version_key.py").unlink()
    (versions / "s03_broken.py").write_text(BROKEN.replace(
        'down_revision = "s02_version_key"', 'down_revision = "s01_settings"'
    ))  # fmt: skip
    url = fresh_database(pg_server, "trace_synthetic_broken_filled")
    done = run_cli("trace", "--dsn", url, "-c", str(ini), "--rows", "50", "--format", "json")
    assert done.code == 2
    message = " ".join(done.stderr.split())
    assert "it fails without dbtune's rows too, as plain `alembic upgrade` from its parent" in (
        message
    )


EVENTS_TABLE = '''"""Events, by account.

Revision ID: e01_events
Revises: t00_base
"""

import sqlalchemy as sa
from alembic import op

revision = "e01_events"
down_revision = "t00_base"
EXPECTED = None


def upgrade() -> None:
    op.create_table(
        "Events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("AccountId", sa.Integer, nullable=False),
        sa.Column("Payload", sa.Text, nullable=False),
        schema="App",
    )
    op.create_index("ix_Events_AccountId", "Events", ["AccountId"], schema="App")
'''

EVENTS_DATA_MIGRATION = '''"""A data change on one account's events.

Revision ID: e02_touch
Revises: e01_events
"""

from alembic import op

revision = "e02_touch"
down_revision = "e01_events"
EXPECTED = None


def upgrade() -> None:
    op.execute(\'UPDATE "App"."Events" SET "Payload" = \\'x\\' WHERE "AccountId" = 1\')
'''

PRODUCTION_EVENTS = """
CREATE SCHEMA "App";
CREATE TABLE "App"."Events" (
    id bigserial PRIMARY KEY, "AccountId" integer NOT NULL, "Payload" text NOT NULL
);
CREATE INDEX "ix_Events_AccountId" ON "App"."Events" ("AccountId");
INSERT INTO "App"."Events" ("AccountId", "Payload")
SELECT least(g % 10, 1), 'payload ' || g FROM generate_series(1, 300000) AS g;
"""


def test_trace_stats_plans_a_data_migration_at_productions_scale(
    pg_server: Server, tmp_path: Path
) -> None:
    """``UPDATE ... WHERE "AccountId" = 1`` finds one of dbtune's 2,000 synthetic rows
    through the index; in production 9 in 10 of the table's 300,000 rows have account 1, and with
    ``--stats`` the trace plans it as production would: a sequential scan of the table."""
    prod = fresh_database(pg_server, "trace_stats_prod")
    with psycopg.connect(prod, autocommit=True) as conn:
        if conn.info.server_version < 180_000:
            pytest.skip("importing statistics needs PostgreSQL 18")
        conn.execute(PRODUCTION_EVENTS)
        conn.execute('VACUUM ANALYZE "App"."Events"')
    stats = tmp_path / "prod.json"
    assert run_cli("stats", "export", "--dsn", prod, "--out", str(stats)).code == 0
    ini = _copy_chain(tmp_path)
    versions = ini.parent / "versions"
    for late in sorted(versions.glob("*.py"))[1:]:
        late.unlink()
    (versions / "e01_events.py").write_text(EVENTS_TABLE)
    (versions / "e02_touch.py").write_text(EVENTS_DATA_MIGRATION)

    def scanned(*extra: str) -> tuple[list[str], list[str]]:
        url = fresh_database(pg_server, "trace_stats")
        done = run_cli("trace", "--dsn", url, "-c", str(ini), "--rows", "2000",
                       "--format", "json", *extra)  # fmt: skip
        assert done.code in (0, 1), done.stderr
        report = json.loads(done.stdout)
        (touch,) = [r for r in report["revisions"] if r["revision"] == "e02_touch"]
        (update,) = [s for s in touch["statements"] if "Events" in s["sql"]]
        return [s["relation"] for s in update["scanned"]], report.get("notes", [])

    plain, _ = scanned()
    assert plain == []
    with_stats, notes = scanned("--stats", str(stats))
    assert with_stats == ['"App"."Events"'], (with_stats, notes)
    assert any('before e02_touch, grew "App"."Events"' in n for n in notes), notes


def test_a_users_broken_revision_is_named_not_reported_as_dbtunes(
    pg_server: Server, tmp_path: Path
) -> None:
    """[steady] item 4: a revision file with a syntax error is the user's to fix: the error
    names the file and the line, never "unexpected IndentationError ... (please report
    this)"."""
    ini = _copy_chain(tmp_path)
    broken = ini.parent / "versions" / "99_broken.py"
    broken.write_text('revision = "x1"\ndown_revision = None\n def upgrade():\n    pass\n')
    url = fresh_database(pg_server, "trace_broken_file")
    done = run_cli("trace", "--dsn", url, "-c", str(ini))
    assert done.code == 2
    assert f"{broken}, line 3: IndentationError: unexpected indent" in done.stderr
    assert "please report" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_chain_where_trace_finds_no_revision_is_an_error_not_a_pass(tmp_path: Path) -> None:
    """[steady] item 6: an env.py that picks its versions folder at run time leaves the ini's
    folder empty, and trace printed "PASS: all 0 pass". Now it says where it looked, exit 2,
    before any server starts."""
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    done = run_cli("trace", "--script-location", str(tmp_path / "migrations"))
    assert done.code == 2
    assert f"no revision in {tmp_path / 'migrations' / 'versions'}" in done.stderr
    assert "PASS" not in done.stdout + done.stderr


MOOD_A = '''"""a, with an Enum type.

Revision ID: m01
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "m01"
down_revision = None

MOOD = sa.Enum("calm", "busy", name="mood")


def upgrade() -> None:
    op.create_table("a", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("m", MOOD))
'''
MOOD_B = (
    MOOD_A.replace("m01", "m02")
    .replace("down_revision = None", 'down_revision = "m01"')
    .replace('op.create_table("a"', 'op.create_table("b"')
    .replace("a, with", "b, with")
)
MOOD_INDEX = '''"""An index on b.m.

Revision ID: m03
Revises: m02
"""

from dbtune.migrations import create_index_online

revision = "m03"
down_revision = "m02"


def upgrade() -> None:
    create_index_online("ix_b_m", "b", ["m"])
'''


def test_from_brings_the_database_there_in_one_run_and_nothing_traced_is_an_error(
    pg_server: Server, tmp_path: Path
) -> None:
    """[steady] items 4 and 6: two revisions whose tables share an Enum type cannot be
    replayed one run each (the second run creates the type again), while ``alembic upgrade``
    in one run can: ``--from`` brings the database there in one run, as the users' upgrade
    does; a run that would trace nothing says why instead of passing."""
    ops = tmp_path / "chain"
    assert run_cli("init-ops", str(ops), "--version-table", "alembic_version").code == 0
    for name, text in (("m01.py", MOOD_A), ("m02.py", MOOD_B), ("m03.py", MOOD_INDEX)):
        (ops / "versions" / name).write_text(text)
    url = fresh_database(pg_server, "trace_from_one_run")
    done = run_cli("trace", "--dsn", url, "-c", str(ops / "alembic.ini"), "--from", "m02",
                   "--format", "json")  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    assert [r["revision"] for r in json.loads(done.stdout)["revisions"]] == ["m03"]
    behind = run_cli("trace", "--dsn", url, "-c", str(ops / "alembic.ini"), "--to", "m02")
    assert behind.code == 2
    assert "nothing to trace" in behind.stderr
    assert "is at m03" in behind.stderr


SETTING_USES = '''"""Uses of a setting, each with a code no generated value meets.

Revision ID: s01b_uses
Revises: s01_settings
"""

from alembic import op

revision = "s01b_uses"
down_revision = "s01_settings"
EXPECTED = None


def upgrade() -> None:
    op.execute(
        \'CREATE TABLE "App"."SettingUse" (id bigint PRIMARY KEY, \'
        \'"SettingId" bigint NOT NULL REFERENCES "App"."Setting" (id), \'
        \'"Code" text NOT NULL CHECK ("Code" = \\'a code dbtune cannot guess\\'))\'
    )
'''


def test_the_retry_without_synthetic_rows_empties_the_tables_that_reference_them(
    pg_server: Server, tmp_path: Path
) -> None:
    """[steady] item 6: the table dbtune filled is referenced by one it could not fill (left
    empty): emptying the filled one alone is refused by the foreign key, so both go in one
    TRUNCATE, and the retry runs."""
    ini = _copy_chain(tmp_path)
    versions = ini.parent / "versions"
    for late in sorted(versions.glob("*.py"))[1:]:
        late.unlink()
    (versions / "s01_settings.py").write_text(SETTINGS_TABLE)
    (versions / "s01b_uses.py").write_text(SETTING_USES)
    (versions / "s02_version_key.py").write_text(
        JSON_DATA_MIGRATION.replace('"s01_settings"', '"s01b_uses"').replace(
            "Revises: s01_settings", "Revises: s01b_uses"
        )
    )
    url = fresh_database(pg_server, "trace_synthetic_referenced")
    done = run_cli("trace", "--dsn", url, "-c", str(ini), "--rows", "50", "--format", "json")
    assert done.code in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert all(r["status"] != "error" for r in report["revisions"]), report["revisions"]
    assert any('"App"."SettingUse"' in n and "left empty" in n for n in report["notes"])
    (note,) = [n for n in report["notes"] if "s02_version_key" in n]
    assert "fails on dbtune's synthetic rows" in note
