"""``doctor --replica``: a real streaming replica (``pg_basebackup -R`` of an embedded server,
started on its own socket) whose reads use an index the primary never scans."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.integration.helpers import run_cli
from tests.servers import TEST_DSN_ENV, scratch_server, streaming_replica

pytestmark = pytest.mark.skipif(
    bool(os.environ.get(TEST_DSN_ENV)),
    reason="the replica is made from the embedded server's binaries and data directory",
)


@pytest.fixture(scope="module")
def primary_and_replica() -> Iterator[tuple[str, str]]:
    with scratch_server() as handle:
        primary = handle.url()
        with psycopg.connect(primary, autocommit=True) as conn:
            conn.execute('CREATE TABLE "Reads" (id bigint PRIMARY KEY, v int, w int)')
            conn.execute(
                'INSERT INTO "Reads" SELECT g, g % 1000, g % 997 FROM generate_series(1, 100000) g'
            )
            conn.execute('CREATE INDEX "ix_Reads_v" ON "Reads" (v)')  # the replica's reads
            conn.execute('CREATE INDEX "ix_Reads_w" ON "Reads" (w)')  # nobody's
            conn.execute('ANALYZE "Reads"')
        with streaming_replica(handle.data_dir) as replica:
            yield primary, replica.url("postgres")


def _unused(url: str, *replicas: str) -> tuple[list[str], dict[str, Any]]:
    args = [a for r in replicas for a in ("--replica", r)]
    run = run_cli(
        "doctor", "--dsn", url, "--format", "json", "--all", "--unused-min-mb", "0", *args
    )
    assert run.code in (0, 1), run.stderr
    report = json.loads(run.stdout)
    found = [f for f in report["findings"] if f["check"] == "unused_indexes"]
    return [f["index"] for f in found], report


def test_an_index_the_replica_reads_is_not_unused(primary_and_replica: tuple[str, str]) -> None:
    primary, replica = primary_and_replica
    with psycopg.connect(replica, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        conn.execute("SET enable_seqscan = off")
        for value in range(5):
            conn.execute('SELECT count(*) FROM "Reads" WHERE v = %s', [value])
    with psycopg.connect(replica, autocommit=True) as conn:
        for _ in range(100):  # the replica's counters, once its backend flushed them
            row = conn.execute(
                "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'ix_Reads_v'"
            ).fetchone()
            if row and row[0] >= 5:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the replica's index scans never showed")

    alone, _ = _unused(primary)
    assert sorted(alone) == ["ix_Reads_v", "ix_Reads_w"]  # the primary alone: both look unused

    with_replica, report = _unused(primary, replica)
    assert with_replica == ["ix_Reads_w"]
    message = next(f["message"] for f in report["findings"] if f["check"] == "unused_indexes")
    assert "nor on 1 replica(s)" in message
    assert "since" in message


def test_a_replica_that_is_not_one_is_refused(primary_and_replica: tuple[str, str]) -> None:
    primary, _ = primary_and_replica
    run = run_cli("doctor", "--dsn", primary, "--replica", primary)
    assert run.code == 2
    assert "is not a streaming replica" in run.stderr
    assert "not in recovery" in run.stderr
