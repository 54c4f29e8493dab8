"""``dbtune fleet``: 50 tenant schemas of one database and databases named in a file, upgraded
as one rollout; a tenant whose table is locked waits, retries, fails cleanly, and the rerun
completes it; a target that refuses connections is named; ``fleet status`` says who is where
and which index drifted from the majority."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.integration.helpers import fresh_database, run_cli
from tests.servers import TEST_DSN_ENV, Server, embedded_server, scratch_server

TENANTS = 50

ITEMS = '''"""Items.

Revision ID: f01_items
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "f01_items"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("owner", sa.BigInteger),
    )
'''

ITEMS_OWNER = '''"""An index on items.owner.

Revision ID: f02_owner
Revises: f01_items
"""

from dbtune.migrations import create_index_online

revision = "f02_owner"
down_revision = "f01_items"


def upgrade() -> None:
    create_index_online("ix_items_owner", "items", ["owner"])
'''


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    ops = tmp_path / "chain"
    assert run_cli("init-ops", str(ops), "--version-table", "alembic_version").code == 0
    (ops / "versions" / "f01_items.py").write_text(ITEMS)
    (ops / "versions" / "f02_owner.py").write_text(ITEMS_OWNER)
    return ops / "alembic.ini"


def _fleet(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    done = run_cli("fleet", *args, "--format", "json", env=env)
    data = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.code, data, done.stderr


def test_fifty_tenants_a_locked_one_and_the_rerun(empty_url: str, chain: Path) -> None:
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for i in range(1, TENANTS + 1):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(f"tenant_{i:02d}")))
    tenants = ["--schemas", "tenant_%", "--dsn", empty_url, "-c", str(chain)]
    code, first, _ = _fleet("upgrade", *tenants, "--to", "f01_items", "--parallel", "4")
    assert code == 0, first
    assert {t["result"] for t in first["targets"]} == {"upgraded"}
    assert len(first["targets"]) == TENANTS

    # tenant_07's table is held by a session: its index build waits, retries, and fails.
    holder = psycopg.connect(empty_url)
    holder.execute("LOCK TABLE tenant_07.items IN ACCESS EXCLUSIVE MODE")
    quick = {"DBTUNE_LOCK_TIMEOUT": "200ms", "DBTUNE_LOCK_RETRIES": "2"}
    try:
        code, second, stderr = _fleet("upgrade", *tenants, "--parallel", "4",
                                      "--continue-on-error", env=quick)  # fmt: skip
    finally:
        holder.close()
    assert code == 1
    results = {t["target"]: t for t in second["targets"]}
    assert results["tenant_07"]["result"] == "failed", json.dumps(second["targets"][:3])
    assert results["tenant_07"]["to"] == "f01_items"
    assert "tenant_07" in stderr
    assert sum(t["result"] == "upgraded" for t in second["targets"]) == TENANTS - 1

    code, third, _ = _fleet("upgrade", *tenants, "--parallel", "4")
    assert code == 0
    done = {t["target"]: t["result"] for t in third["targets"]}
    assert done["tenant_07"] == "upgraded"
    assert sum(r == "at target" for r in done.values()) == TENANTS - 1  # resumed, not redone
    with psycopg.connect(empty_url) as conn:
        versions = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = 'alembic_version'"
        ).fetchone()
        indexes = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_items_owner'"
        ).fetchone()
    assert versions == (TENANTS,)  # one version table per tenant
    assert indexes == (TENANTS,)

    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("DROP INDEX tenant_13.ix_items_owner")
        conn.execute("CREATE INDEX ix_items_owner ON tenant_13.items (id)")
    code, status, _ = _fleet("status", *tenants)
    assert code == 1
    assert all(t["at_head"] for t in status["targets"])
    (drift,) = status["drift"]
    assert drift["targets"] == ["tenant_13"]
    assert "ix_items_owner differs" in drift["finding"]

    # doctor and explain on every tenant: each kind of finding once, with its tenants.
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for i in range(1, TENANTS + 1):
            conn.execute(f"CREATE INDEX ix_items_owner_again ON tenant_{i:02d}.items (owner)")
    code, doctor, _ = _fleet("doctor", *tenants, "--all")
    assert code == 1
    redundant = [g for g in doctor["findings"] if g["kind"] == "redundant_indexes"]
    # one line for the 49 tenants alike; tenant_13's drifted index (on id) twins the key
    assert [len(g["targets"]) for g in redundant] == [TENANTS - 1, 1], redundant
    assert (
        "<schema>.ix_items_owner_again duplicates <schema>.ix_items_owner"
        in (redundant[0]["finding"])
    )
    assert redundant[1]["targets"] == ["tenant_13"]
    workload = chain.parent / "w.toml"
    workload.write_text(
        '[[query]]\nname = "owned"\nsql = "SELECT id FROM items WHERE owner = 5"\n'
        'expect.index = "ix_items_owner"\n'
    )
    code, explained, _ = _fleet("explain", *tenants, "--workload", str(workload))
    assert code == 1
    named = [g for g in explained["findings"] if "tenant_13" in g["targets"]]
    assert named
    assert all(len(set(g["targets"])) == len(g["targets"]) for g in explained["findings"])


def test_databases_from_a_file_and_one_that_refuses(
    pg_server: Server, chain: Path, tmp_path: Path
) -> None:
    names = [f"fleet_db_{i}" for i in range(4)]
    for name in names:
        fresh_database(pg_server, name)
    refusing = "postgresql://nobody@127.0.0.1:1/nowhere"
    targets = tmp_path / "targets.txt"
    targets.write_text("# the fleet\n" + "\n".join(pg_server.url(n) for n in names)
                       + f"\n{refusing}\n")  # fmt: skip
    rollout = ["--canary", "1", "--parallel", "2", "--continue-on-error"]
    code, data, stderr = _fleet("upgrade", "--targets", str(targets), "-c", str(chain), *rollout)
    assert code == 1
    results = [t["result"] for t in data["targets"]]
    assert results == ["upgraded"] * 4 + ["failed"]
    assert "connect" in data["targets"][-1]["error"]
    assert "Traceback" not in stderr

    # A failing canary stops the rollout: nothing else runs.
    canary_first = tmp_path / "canary.txt"
    canary_first.write_text("\n".join([refusing, *(pg_server.url(n) for n in names)]) + "\n")
    code, data, _ = _fleet("upgrade", "--targets", str(canary_first), "-c", str(chain),
                           "--canary", "1")  # fmt: skip
    assert code == 1
    assert [t["result"] for t in data["targets"]] == ["failed"] + ["not run"] * 4


def test_usage_errors_are_one_line(chain: Path, tmp_path: Path) -> None:
    for args, expected in (
        (["upgrade", "-c", str(chain)], "name the fleet once"),
        (["upgrade", "--targets", str(tmp_path / "none.txt"), "-c", str(chain)], "cannot read"),
        (["upgrade", "--targets", str(chain), "-c", str(tmp_path / "no.ini")], "no Alembic ini"),
    ):
        done = run_cli("fleet", *args)
        assert done.code == 2, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr


def test_twenty_databases_on_three_servers_within_the_connection_budget(
    pg_server: Server, chain: Path, tmp_path: Path
) -> None:
    """``--parallel 2`` over 20 databases on three servers: at no moment more than two of the
    rollout's connections on any server (sampled from pg_stat_activity while it runs)."""
    if os.environ.get(TEST_DSN_ENV):
        pytest.skip("runs once, on embedded servers")
    with scratch_server() as second, scratch_server() as third:
        servers = [pg_server, embedded_server(second), embedded_server(third)]
        urls = [fresh_database(servers[i % 3], f"fleet3_{i:02d}") for i in range(20)]
        targets = tmp_path / "targets.txt"
        targets.write_text("\n".join(urls) + "\n")
        peaks = [0, 0, 0]
        stop = threading.Event()

        def watch() -> None:
            conns = [psycopg.connect(s.url("postgres"), autocommit=True,
                                     application_name="watch") for s in servers]  # fmt: skip
            try:
                while not stop.is_set():
                    for i, conn in enumerate(conns):
                        row = conn.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                            "'client backend' AND application_name <> 'watch' "
                            "AND datname LIKE 'fleet3_%'"
                        ).fetchone()
                        peaks[i] = max(peaks[i], int(row[0]) if row else 0)
                    time.sleep(0.01)
            finally:
                for conn in conns:
                    conn.close()

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            code, data, _ = _fleet("upgrade", "--targets", str(targets), "-c", str(chain),
                                   "--parallel", "2")  # fmt: skip
        finally:
            stop.set()
            watcher.join()
    assert code == 0, data
    assert [t["result"] for t in data["targets"]] == ["upgraded"] * 20
    assert max(peaks) >= 1  # the watch saw the rollout
    assert all(p <= 2 for p in peaks), peaks


def test_a_killed_rollout_is_resumed(empty_url: str, chain: Path, tmp_path: Path) -> None:
    """The fleet process killed half-way (its workers may still finish the upgrade in hand);
    the rerun — here naming the tenants with ``--targets-query`` — skips the tenants already
    at head and completes the others; the ledger kept every line the killed run wrote, and
    the rerun names the tenants it left started."""
    ledger = tmp_path / "ledger.jsonl"
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for i in range(12):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(f"killed_{i:02d}")))
    command = [sys.executable, "-m", "dbtune", "fleet", "upgrade", "--schemas", "killed_%",
               "--dsn", empty_url, "-c", str(chain), "--parallel", "2",
               "--ledger", str(ledger)]  # fmt: skip
    rollout = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    count = "SELECT count(*) FROM pg_class WHERE relname = 'alembic_version'"
    deadline = time.monotonic() + 60
    with psycopg.connect(empty_url, autocommit=True) as conn:
        while time.monotonic() < deadline and rollout.poll() is None:
            row = conn.execute(count).fetchone()
            if row and row[0] >= 3:
                break
            time.sleep(0.05)
    rollout.kill()
    rollout.wait()
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    last = {e["target"]: e["event"] for e in entries}
    assert "end" in last.values()
    cut_off = sorted(name for name, event in last.items() if event == "start")
    query = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'killed_%' ORDER BY 1"
    rerun = ["--targets-query", query, "--dsn", empty_url, "-c", str(chain), "--parallel", "2"]
    code, data, err = _fleet("upgrade", *rerun, "--ledger", str(ledger))
    assert code == 0, data
    assert sorted(n for n in cut_off if f"{n} was cut off" in err) == cut_off
    results = [t["result"] for t in data["targets"]]
    assert len(results) == 12
    assert results.count("at target") >= 1  # what the killed run finished is not redone
    assert set(results) <= {"at target", "upgraded"}


def test_a_target_that_hangs_times_out_without_holding_the_others(
    empty_url: str, chain: Path
) -> None:
    """Another run holds hang_1's migration lock (its tenant's own: hang_0 and hang_2 are not
    held up by it): hang_1 waits, times out at --timeout, and is named."""
    from dbtune.migrations.run_lock import LOCK_CLASS, lock_key

    with psycopg.connect(empty_url, autocommit=True) as conn:
        for i in range(3):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(f"hang_{i}")))
    holder = psycopg.connect(empty_url, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, lock_key("hang_1")])
    try:
        code, data, stderr = _fleet("upgrade", "--schemas", "hang_%", "--dsn", empty_url,
                                    "-c", str(chain), "--canary", "0", "--timeout", "4",
                                    "--continue-on-error")  # fmt: skip
    finally:
        holder.close()
    assert code == 1
    results = {t["target"]: t for t in data["targets"]}
    assert results["hang_0"]["result"] == results["hang_2"]["result"] == "upgraded"
    assert results["hang_1"]["result"] == "failed"
    assert "timed out after 4 s" in results["hang_1"]["error"]
    assert results["hang_0"]["seconds"] < 4
    assert "hang_1: failed: timed out" in " ".join(stderr.split())


def test_tenants_whose_names_need_quotes(empty_url: str, chain: Path) -> None:
    """[fleet-scale] item 2: capitals, a space and a quote in a tenant's name: its tables and
    its version table land in its own schema."""
    names = ["AcmeCorp", "two words", '"q"uote']
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    query = (
        "SELECT nspname FROM pg_namespace WHERE nspname IN ('AcmeCorp', 'two words', '\"q\"uote')"
    )
    code, data, err = _fleet("upgrade", "-c", str(chain), "--targets-query", query,
                             "--dsn", empty_url, "--parallel", "2")  # fmt: skip
    assert code == 0, err
    assert sorted(t["target"] for t in data["targets"]) == sorted(names)
    with psycopg.connect(empty_url) as conn:
        for name in names:
            found = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname IN ('items', 'alembic_version', "
                "'ix_items_owner')",
                [name],
            ).fetchone()
            assert found == (3,), name
    code, status, err = _fleet("status", "-c", str(chain), "--targets-query", query,
                               "--dsn", empty_url)  # fmt: skip
    assert code == 0, err
    assert {t["revision"] for t in status["targets"]} == {"f02_owner"}


OWN_ENV = """
import os

from alembic import context
from sqlalchemy import create_engine

url = os.environ.get("APP_DATABASE", "sqlite:///{db}")
with create_engine(url).connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""


def test_an_env_py_that_migrates_elsewhere_is_refused_before_it_connects(
    empty_url: str, chain: Path, tmp_path: Path
) -> None:
    """[fleet-scale] item 3: an env.py that reads its own setting (here: a SQLite file) is
    stopped before it connects; the file is never created, and the rollout stops there."""
    database = tmp_path / "app.db"
    (chain.parent / "env.py").write_text(OWN_ENV.replace("{db}", str(database)))
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for i in range(3):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(f"shop_{i}")))
    code, data, _ = _fleet("upgrade", "-c", str(chain), "--schemas", "shop_%",
                             "--dsn", empty_url)  # fmt: skip
    assert code == 1
    first, *rest = data["targets"]
    assert first["result"] == "failed"
    assert "env.py" in first["error"]
    assert "sqlite" in first["error"]
    assert {t["result"] for t in rest} == {"not run"}
    assert not database.exists()


STOCK_ENV = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""


def test_a_stock_env_py_migrates_the_target_not_the_ini_url(
    empty_url: str, chain: Path, tmp_path: Path
) -> None:
    """Alembic's generic env.py reads ``sqlalchemy.url``: each target's URL is set there, so
    the ini's own (a SQLite file) is never touched."""
    database = tmp_path / "app.db"
    (chain.parent / "env.py").write_text(STOCK_ENV)
    ini = chain.read_text()
    chain.write_text(
        ini.replace("[alembic]", f"[alembic]\nsqlalchemy.url = sqlite:///{database}", 1)
    )
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA stock_1")
    code, data, err = _fleet("upgrade", "-c", str(chain), "--schemas", "stock_%",
                             "--dsn", empty_url)  # fmt: skip
    assert code == 0, (err, data)
    assert not database.exists()
    with psycopg.connect(empty_url) as conn:
        assert conn.execute("SELECT to_regclass('stock_1.items')").fetchone() != (None,)


def test_the_ledger_records_each_target_and_shards_share_the_fleet(
    empty_url: str, chain: Path, tmp_path: Path
) -> None:
    """[fleet-scale] item 6: ``--ledger`` has each target's start and end as they happened;
    a target left started by a killed run is named by the next; ``--shard 1/2`` and ``2/2``
    upgrade every tenant once between them."""
    with psycopg.connect(empty_url, autocommit=True) as conn:
        for i in range(6):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(f"led_{i}")))
    ledger = tmp_path / "ledger.jsonl"
    common = ["-c", str(chain), "--schemas", "led_%", "--dsn", empty_url, "--ledger", str(ledger)]
    seen = []
    for k in (1, 2):
        code, data, err = _fleet("upgrade", *common, "--shard", f"{k}/2")
        assert code == 0, err
        seen += [t["target"] for t in data["targets"]]
    assert sorted(seen) == [f"led_{i}" for i in range(6)]
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert sorted(e["target"] for e in entries if e["event"] == "end") == sorted(seen)
    assert all(e["result"] == "upgraded" for e in entries if e["event"] == "end")
    # a run killed mid-upgrade leaves a start with no end: the next run names that target
    with ledger.open("a") as file:
        file.write(json.dumps({"time": 0, "target": "led_3", "event": "start"}) + "\n")
    code, data, err = _fleet("upgrade", *common)
    assert code == 0, err
    assert "led_3 was cut off mid-upgrade" in err
    assert {t["result"] for t in data["targets"]} == {"at target"}


def test_a_broken_revision_file_is_named_with_its_line(chain: Path, empty_url: str) -> None:
    """[fleet-scale] item 5: the user's file, not dbtune's bug."""
    broken = chain.parent / "versions" / "f02_owner.py"
    broken.write_text(broken.read_text().replace("def upgrade() -> None:", "def upgrade() -> None"))
    code, _, err = _fleet("upgrade", "-c", str(chain), "--schemas", "nobody_%",
                          "--dsn", empty_url)  # fmt: skip
    assert code == 2
    assert "f02_owner.py, line" in err
    assert "please report" not in err


def test_fleet_doctor_fails_where_doctor_fails(empty_url: str, tmp_path: Path) -> None:
    """[fleet-scale] item 4: findings doctor counts without listing them (small objects) are
    findings for the fleet too: the same exit code, the kind named."""
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE no_key (x int)")
        conn.execute("INSERT INTO no_key SELECT generate_series(1, 10)")
    alone = run_cli("doctor", "--dsn", empty_url, "--format", "json")
    listed = {c["id"] for c in json.loads(alone.stdout)["checks"] if c["status"] == "fail"}
    targets = tmp_path / "fleet.txt"
    targets.write_text(empty_url + "\n")
    code, data, err = _fleet("doctor", "--targets", str(targets))
    assert code == alone.code == 1, err
    assert {g["kind"] for g in data["findings"]} == listed


def test_url_env_serves_an_env_py_that_reads_its_own_variable(
    empty_url: str, chain: Path, tmp_path: Path
) -> None:
    """An env.py reading ``APP_DATABASE``: ``--url-env APP_DATABASE`` sets it for each target."""
    own = OWN_ENV.replace("create_engine(url)", "create_engine(url.replace(DRIVER, PSYCOPG, 1))")
    own = own.replace(
        "import os", 'import os\n\nDRIVER, PSYCOPG = "postgresql://", "postgresql+psycopg://"'
    )
    (chain.parent / "env.py").write_text(own.replace("{db}", str(tmp_path / "app.db")))
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA own_1")
    code, data, err = _fleet("upgrade", "-c", str(chain), "--schemas", "own_%",
                             "--dsn", empty_url, "--url-env", "APP_DATABASE")  # fmt: skip
    assert code == 0, (err, data)
    assert not (tmp_path / "app.db").exists()


def test_fleet_explain_agrees_with_explain(seeded_url: str, tmp_path: Path) -> None:
    """[fleet-scale] item 4: on one database, fleet explain fails the checks explain fails
    (both plans only), and passes what it passes."""
    workload = tmp_path / "w.toml"
    workload.write_text(
        '[[query]]\nname = "by_content"\n'
        "sql = \"SELECT id FROM conversation_history WHERE content = 'x'\"\n"
        "expect = { no_seq_scan = true }\n\n"
        '[[query]]\nname = "one_user"\nsql = "SELECT id FROM users WHERE id = 7"\n'
        "expect = { no_seq_scan = true }\n"
    )
    alone = run_cli("explain", "--dsn", seeded_url, "--workload", str(workload),
                    "--no-analyze", "--format", "json")  # fmt: skip
    failed = {
        f"{q['name']}[{q['profile']}] {c['id']}"
        for q in json.loads(alone.stdout)["queries"]
        for c in q["checks"]
        if c["status"] == "fail"
    }
    targets = tmp_path / "fleet.txt"
    targets.write_text(seeded_url + "\n")
    code, data, err = _fleet("explain", "--targets", str(targets), "--workload", str(workload))
    assert code == alone.code == 1, err
    assert {g["kind"] for g in data["findings"]} == failed == {"by_content[default] no_seq_scan"}
