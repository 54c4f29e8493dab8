"""dbtune pool tune on the shop (tests/foreign_app): its own reads, both drivers, no change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.helpers import REPO, run_cli

SHOP_WORKLOAD = REPO / "tests" / "foreign_app" / "workload.toml"


def _state(url: str) -> tuple[Any, ...]:
    """What a change would move: every order's checksum, the sequences, the tuple counters."""
    with psycopg.connect(url) as conn:
        orders = conn.execute(
            'SELECT count(*), md5(string_agg(o::text, \',\' ORDER BY id)) FROM "Shop"."Orders" o'
        ).fetchone()
        sequences = conn.execute(
            "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"
        ).fetchall()
        return orders, tuple(sequences)


@pytest.mark.parametrize("driver", ["psycopg", "asyncpg"])
def test_pool_tune_sweeps_the_shops_reads_and_changes_nothing(
    shop_url: str, tmp_path: Path, driver: str
) -> None:
    before = _state(shop_url)
    run = run_cli(
        "pool", "tune", "--dsn", shop_url, "--workload", str(SHOP_WORKLOAD),
        "--driver", driver, "--clients", "8", "--duration", "0.3", "--passes", "2",
        "--sizes", "4,1,2", "--out", str(tmp_path), "--format", "json",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["driver"] == driver
    assert [row["max_size"] for row in report["sizes"]] == [1, 2, 4]
    for row in report["sizes"]:
        assert len(row["qps_passes"]) == 2, row
        assert min(row["qps_passes"]) > 0, row
        assert row["p95_ms"] > 0
    assert report["knee"] in (1, 2, 4)
    assert report["best"] in (1, 2, 4)
    assert sorted(report["queries"]) == [
        "customer_by_email",
        "orders_of_customers",
        "recent_orders",
    ]
    # FOR UPDATE takes row locks: not a read, not run.
    assert [s.split(":")[0] for s in report["skipped"]] == ["claim_order"]
    assert report["verdict"][0].startswith(f"Knee: max_size {report['knee']} reaches")
    markdown = (tmp_path / "pool-tune.md").read_text()
    assert f"through one {driver} pool per size" in markdown
    assert "password" not in markdown
    assert shop_url not in markdown
    assert (tmp_path / "pool-tune.png").stat().st_size > 10_000
    assert _state(shop_url) == before


def test_a_read_that_would_write_fails_on_the_read_only_pool(shop_url: str, tmp_path: Path) -> None:
    """nextval() parses as a SELECT; the read-only connections refuse it, the sequence stays."""
    workload = tmp_path / "w.toml"
    workload.write_text(
        '[[query]]\nname = "next_customer_id"\n'
        'sql = "SELECT nextval(pg_get_serial_sequence(\'\\"Shop\\".\\"Customer\\"\', \'id\'))"\n'
    )
    before = _state(shop_url)
    run = run_cli(
        "pool", "tune", "--dsn", shop_url, "--workload", str(workload), "--clients", "2",
        "--duration", "0.2", "--passes", "1", "--sizes", "1", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert run.code == 2, run.stdout + run.stderr
    assert "no call succeeded at any pool size; the first error: next_customer_id:" in run.stderr
    assert "read-only transaction" in run.stderr
    assert "Traceback" not in run.stderr
    assert _state(shop_url) == before


def test_pool_tune_refuses_to_overwrite_and_to_run_nothing(shop_url: str, tmp_path: Path) -> None:
    (tmp_path / "pool-tune.md").write_text("mine\n")
    run = run_cli("pool", "tune", "--dsn", shop_url, "--out", str(tmp_path))
    assert run.code == 2
    assert "already exist(s): pass --force" in run.stderr
    assert (tmp_path / "pool-tune.md").read_text() == "mine\n"
    writes = tmp_path / "writes.toml"
    writes.write_text(
        '[[query]]\nname = "close_orders"\n'
        'sql = \'UPDATE "Shop"."Orders" SET status = %(s)s WHERE id = 1\'\nparams.s = "closed"\n'
    )
    run = run_cli(
        "pool", "tune", "--dsn", shop_url, "--workload", str(writes), "--out", str(tmp_path / "o")
    )
    assert run.code == 2
    assert "no query of" in run.stderr
    assert "close_orders: a write; pool tune runs reads only" in (run.stderr)
    assert not (tmp_path / "o").exists()
