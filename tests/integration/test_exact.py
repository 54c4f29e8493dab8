"""Catalog semantics on a fixture that is not ours: a sequence, a never-analyzed big table, two
collations, DESC/ASC prefixes, a partitioned table, numeric/varchar/text/domain columns and
constraint-backed indexes. What explain and doctor say about each rule, and every fix doctor
prints, executed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from pglast import split

from tests.integration.helpers import run_cli

FIXTURE = """
CREATE SEQUENCE order_seq;
CREATE TABLE big_unanalyzed (id bigint, kind text) WITH (autovacuum_enabled = off);
INSERT INTO big_unanalyzed SELECT g, 'k' || (g % 7) FROM generate_series(1, 300000) AS g;
CREATE DOMAIN short_name AS text CHECK (char_length(VALUE) <= 40);
CREATE TABLE items (
    id bigint PRIMARY KEY,
    sku varchar(40),
    amount numeric(22, 2),
    code varchar(20) UNIQUE,
    note text,
    tag short_name,
    status int,
    created_at timestamptz,
    EXCLUDE USING btree (status WITH =)
);
INSERT INTO items SELECT g, 'sku' || g, g, 'c' || g, 'n', 't', g, now()
    FROM generate_series(1, 500) AS g;
CREATE INDEX ix_items_sku ON items (sku);
CREATE INDEX ix_items_sku_c ON items (sku COLLATE "C");
CREATE INDEX ix_items_created_desc ON items (created_at DESC);
CREATE INDEX ix_items_created_status ON items (created_at, status);
CREATE INDEX ix_items_narrow ON items (id) INCLUDE (amount, code, tag);
CREATE INDEX ix_items_note ON items (id) INCLUDE (note);
CREATE INDEX ix_items_code_copy ON items (code);
CREATE INDEX ix_items_status_copy ON items (status);
CREATE TABLE events (id bigint, at date, item_id bigint REFERENCES items (id))
    PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT g, date '2025-06-01' + (g % 400), 1 + g % 500
    FROM generate_series(1, 30000) AS g;
CREATE INDEX ix_events_at ON events (at);
CREATE INDEX ix_events_at_copy ON events (at);
ANALYZE items;
ANALYZE events;
"""


def _plant(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in split(FIXTURE):
            conn.execute(statement)


def _doctor(url: str) -> dict[str, list[dict[str, str]]]:
    run = run_cli("doctor", "--dsn", url, "--format", "json", "--all")
    assert run.code in (0, 1), run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    return {c["id"]: c["findings"] for c in report["checks"]}


def _subjects(found: dict[str, list[dict[str, str]]], kind: str) -> list[str]:
    return sorted(f["subject"] for f in found[kind])


def test_doctor_on_the_fixture_and_every_fix_executes(empty_url: str) -> None:
    _plant(empty_url)
    found = _doctor(empty_url)
    # Collations: (sku) and (sku COLLATE "C") are not duplicates. Directions: a one-column
    # (created_at DESC) is (created_at, status) read backwards. Constraint-backed indexes
    # (UNIQUE, EXCLUDE) stay; their plain copies go. The partitioned copy is named once,
    # on the parent, with a plain DROP INDEX (not CONCURRENTLY: refused there before 18).
    assert _subjects(found, "redundant_indexes") == [
        "public.ix_events_at_copy",
        "public.ix_items_code_copy",
        "public.ix_items_created_desc",
        "public.ix_items_status_copy",
    ]
    events_copy = next(
        f for f in found["redundant_indexes"] if f["subject"] == "public.ix_events_at_copy"
    )
    assert events_copy["fix"] == "DROP INDEX public.ix_events_at_copy;"
    # Widths: numeric(22,2), varchar(20) and a domain bounded to 40 characters are bounded;
    # text is not.
    assert _subjects(found, "wide_indexes") == ["public.ix_items_note"]
    # The partitioned table's foreign key is reported once, not per partition, with a build
    # that works on a partitioned table.
    [key] = found["unindexed_foreign_keys"]
    assert key["subject"] == "public.events.events_item_id_fkey"
    assert key["fix"] == "CREATE INDEX ix_events_item_id ON public.events (item_id);"
    assert found["invalid_indexes"] == []
    # A big table that has never been analyzed is a finding in itself.
    assert found["unanalyzed_tables"] == [
        {
            "subject": "public.big_unanalyzed",
            "message": found["unanalyzed_tables"][0]["message"],
            "fix": "ANALYZE public.big_unanalyzed;",
            "severity": "medium",
        }
    ]
    assert "has never been analyzed" in found["unanalyzed_tables"][0]["message"]

    with psycopg.connect(empty_url, autocommit=True) as conn:
        for findings in found.values():
            for finding in findings:
                for statement in split(finding["fix"]):
                    conn.execute(statement)
    after = _doctor(empty_url)
    for kind in (
        "redundant_indexes",
        "wide_indexes",
        "unindexed_foreign_keys",
        "unanalyzed_tables",
    ):
        assert after[kind] == [], (kind, after[kind])


def test_explain_on_the_fixture(empty_url: str, tmp_path: Path) -> None:
    _plant(empty_url)
    workload = tmp_path / "exact.toml"
    workload.write_text(
        "[[query]]\nname = 'sequence'\nsql = 'SELECT last_value FROM order_seq'\n"
        "expect.no_seq_scan = true\n"
        "[[query]]\nname = 'unanalyzed'\n"
        "sql = \"SELECT count(*) FROM big_unanalyzed WHERE kind = 'k1'\"\n"
        "[[query]]\nname = 'partition'\n"
        "sql = \"SELECT id FROM events WHERE at >= '2026-02-01' AND item_id = 7\"\n"
        "expect.no_seq_scan = true\n",
        "utf-8",
    )
    run = run_cli("explain", "--dsn", empty_url, "--workload", str(workload), "--format", "json")
    assert run.code == 1, run.stderr
    checks = {
        q["name"]: {c["id"]: c for c in q["checks"]} for q in json.loads(run.stdout)["queries"]
    }
    # A sequence is not a table: nothing to index, no failure.
    assert checks["sequence"]["no_seq_scan"]["status"] == "pass"
    # A never-analyzed table of 300,000 rows is not "small" and not "about -1 rows".
    unanalyzed = checks["unanalyzed"]["no_seq_scan"]
    assert unanalyzed["status"] == "fail"
    assert "300,000 rows by the plan; it has never been analyzed" in unanalyzed["message"]
    # A scanned partition is named with the table the user knows.
    assert "events_2026 (a partition of events)" in checks["partition"]["no_seq_scan"]["message"]


def test_the_migrations_width_guard_uses_the_same_rule(empty_url: str) -> None:
    import pytest

    from dbtune.errors import MigrationError
    from dbtune.migrations import create_index_online
    from tests.integration.test_identifiers import operations

    _plant(empty_url)
    with operations(empty_url):  # numeric(22,2) and a 40-character domain are bounded
        create_index_online("ix_items_money", "items", ["id"], include=["amount", "tag"])
    with operations(empty_url), pytest.raises(MigrationError, match=r"note \(text\)"):
        create_index_online("ix_items_notes", "items", ["id"], include=["note"])
