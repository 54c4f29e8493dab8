"""The online operations beyond indexes, on the shop (a schema that is not ours: "Shop",
"Orders", "customerId", varchar columns, its own Alembic chain) with 300k orders, while the
shop's own writers insert and update both tables of its foreign key."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from dbtune.bench.writer import writing
from dbtune.errors import MigrationError
from dbtune.migrations import (
    add_column_online,
    add_foreign_key_online,
    add_unique_online,
    backfill,
    change_column_type_online,
    create_index_online,
    set_not_null_online,
)
from tests.foreign_app import app as shop
from tests.integration.helpers import one_row, revision

ORDERS = '"Shop"."Orders"'
FK = "fk_Orders_customerId"


def _constraints(url: str, table: str = ORDERS) -> dict[str, tuple[str, bool]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT conname, contype, convalidated FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype <> 'n'",
            [table],
        ).fetchall()
    return {name: (kind, valid) for name, kind, valid in rows}


def _not_null(url: str, column: str) -> bool:
    return bool(
        one_row(
            url,
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            [ORDERS, column],
        )
    )


def _without_the_shops_foreign_key(url: str, *, indexed: bool) -> None:
    """The shop as a team that never declared its foreign key (the advisor's index or not)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "Shop"."Orders" DROP CONSTRAINT "Orders_customerId_fkey"')
    if indexed:
        with revision(url):
            create_index_online("ix_Orders_customerId", "Orders", ["customerId"], schema="Shop")


def _add_fk() -> None:
    add_foreign_key_online(
        FK, "Orders", ["customerId"], "Customer", ["id"], schema="Shop", ondelete="CASCADE"
    )


def _fk_state(url: str) -> None:
    assert _constraints(url)[FK] == ("f", True)
    assert one_row(url, "SELECT confdeltype FROM pg_constraint WHERE conname = %s", [FK]) == "c"


def _not_null_state(url: str) -> None:
    assert _not_null(url, "note")
    assert not [n for n in _constraints(url) if "not_null" in n]  # the temporary check is gone


def _unique_state(url: str) -> None:
    assert _constraints(url)["uq_Orders_customerId_createdAt"] == ("u", True)


def _volatile_column_state(url: str) -> None:
    count, distinct, nulls = one_row(
        url, 'SELECT count(*), count(DISTINCT "trackingId"), count(*) - count("trackingId") '
        'FROM "Shop"."Orders"',
    )  # fmt: skip
    assert nulls == 0
    assert distinct == count  # every row, old and new, has its own value
    assert _not_null(url, "trackingId")


def _fast_column_state(url: str) -> None:
    assert _not_null(url, "channel")
    assert one_row(url, """SELECT count(*) FROM "Shop"."Orders" WHERE channel <> 'web'""") == 0


def _type_state(url: str) -> None:
    assert (
        one_row(
            url,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = '\"Shop\".\"Orders\"'::regclass AND attname = 'status'",
        )
        == "character varying(40)"
    )


def _backfill_state(url: str) -> None:
    old = """FROM "Shop"."Orders" WHERE note <> 'placed meanwhile'"""
    assert one_row(url, f"SELECT min(total) >= 1000 AND max(total) < 2000 {old}")  # each row once
    assert one_row(url, "SELECT to_regclass('\"Shop\".dbtune_backfill_progress')") is None


HELPERS: dict[str, tuple[Callable[[], None], Callable[[str], None]]] = {
    "add_foreign_key_online": (_add_fk, _fk_state),
    "set_not_null_online": (lambda: set_not_null_online("Orders", "note", schema="Shop"),
                            _not_null_state),
    "add_unique_online": (
        lambda: add_unique_online(
            "uq_Orders_customerId_createdAt", "Orders", ["customerId", "createdAt"],
            schema="Shop",
        ),
        _unique_state,
    ),
    "add_column_online volatile": (
        lambda: add_column_online("Orders", "trackingId", "uuid", default="gen_random_uuid()",
                                  not_null=True, schema="Shop", batch_size=5000),
        _volatile_column_state,
    ),
    "add_column_online constant": (
        lambda: add_column_online("Orders", "channel", "varchar(10)", default="'web'",
                                  not_null=True, schema="Shop"),
        _fast_column_state,
    ),
    "change_column_type_online": (
        lambda: change_column_type_online("Orders", "status", "varchar(40)", schema="Shop"),
        _type_state,
    ),
    "backfill": (
        lambda: backfill("Orders", {"total": "total + 1000"}, where="total < 1000",
                         schema="Shop", batch_size=5000),
        _backfill_state,
    ),
}  # fmt: skip


@pytest.mark.parametrize("helper", list(HELPERS))
def test_each_helper_completes_while_the_shop_writes(busy_shop_url: str, helper: str) -> None:
    run, check = HELPERS[helper]
    if helper == "add_foreign_key_online":
        _without_the_shops_foreign_key(busy_shop_url, indexed=True)
    orders = one_row(busy_shop_url, 'SELECT count(*) FROM "Shop"."Orders"')
    with writing(busy_shop_url, step=shop.traffic) as writer, revision(busy_shop_url):
        run()
    stats = writer.stats()
    print(f"{helper}: {stats.inserts} writes, worst {stats.worst_s * 1000:.1f} ms")
    assert stats.failures == 0, writer.failures[:3]
    assert stats.inserts > 10
    inserted = (stats.inserts + 2) // 3
    assert one_row(busy_shop_url, 'SELECT count(*) FROM "Shop"."Orders"') == orders + inserted
    check(busy_shop_url)
    with revision(busy_shop_url):  # a second run finds everything done
        run()
    check(busy_shop_url)


@contextmanager
def holding(url: str, statement: str) -> Iterator[int]:
    """A session that ran ``statement`` and keeps its transaction open: a blocker."""
    with psycopg.connect(url) as conn:
        conn.execute(statement)
        yield conn.info.backend_pid
        conn.rollback()


@pytest.mark.parametrize(
    "blocker",
    [
        """UPDATE "Shop"."Orders" SET status = 'paid' WHERE id = md5('1')::uuid""",
        """UPDATE "Shop"."Customer" SET "displayName" = 'x' WHERE id = 1""",
    ],
    ids=["on the referencing table", "on the referenced table"],
)  # fmt: skip
def test_a_foreign_key_names_a_blocker_on_either_table_and_leaves_nothing(
    busy_shop_url: str, blocker: str
) -> None:
    _without_the_shops_foreign_key(busy_shop_url, indexed=True)
    with (
        holding(busy_shop_url, blocker) as pid,
        revision(busy_shop_url),
        pytest.raises(MigrationError) as info,
    ):
        add_foreign_key_online(FK, "Orders", ["customerId"], "Customer", ["id"],
                                   schema="Shop", lock_timeout="200ms", lock_retries=1)  # fmt: skip
    message = str(info.value)
    assert f"pid {pid}" in message
    held = 'Shop"."Orders' if "Orders" in blocker else 'Shop"."Customer'
    assert f'holding "{held}"' in message
    assert "Nothing was added" in message
    assert FK not in _constraints(busy_shop_url)


def test_set_not_null_names_a_reader_and_leaves_nothing(busy_shop_url: str) -> None:
    reader = 'SELECT count(*) FROM "Shop"."Orders"'
    with (
        holding(busy_shop_url, reader) as pid,
        revision(busy_shop_url),
        pytest.raises(MigrationError) as info,
    ):
        set_not_null_online("Orders", "note", schema="Shop", lock_timeout="200ms",
                            lock_retries=1)  # fmt: skip
    assert f"pid {pid}" in str(info.value)
    assert _constraints(busy_shop_url) == {"Orders_pkey": ("p", True),
                                           "Orders_customerId_fkey": ("f", True)}  # fmt: skip
    assert not _not_null(busy_shop_url, "note")


CHECK = "ck_Orders_note_not_null"


@pytest.mark.parametrize(
    "crashed_after",
    [
        [f'ALTER TABLE {ORDERS} ADD CONSTRAINT "{CHECK}" CHECK (note IS NOT NULL) NOT VALID'],
        [f'ALTER TABLE {ORDERS} ADD CONSTRAINT "{CHECK}" CHECK (note IS NOT NULL)'],
        [f'ALTER TABLE {ORDERS} ADD CONSTRAINT "{CHECK}" CHECK (note IS NOT NULL)',
         f"ALTER TABLE {ORDERS} ALTER COLUMN note SET NOT NULL"],
    ],
    ids=["added NOT VALID", "validated", "NOT NULL set, check left"],
)  # fmt: skip
def test_set_not_null_resumes_from_every_step(busy_shop_url: str, crashed_after: list[str]) -> None:
    with psycopg.connect(busy_shop_url, autocommit=True) as conn:
        for statement in crashed_after:
            conn.execute(statement)
    with revision(busy_shop_url):
        set_not_null_online("Orders", "note", schema="Shop")
    _not_null_state(busy_shop_url)


def test_set_not_null_skips_the_scan_because_the_check_proves_it(busy_shop_url: str) -> None:
    """PostgreSQL says so at DEBUG1: the ACCESS EXCLUSIVE step reads no row."""
    notices: list[str] = []
    with revision(busy_shop_url) as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        raw.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.exec_driver_sql("SET client_min_messages = debug1")
        set_not_null_online("Orders", "note", schema="Shop")
    assert any("sufficient to prove that it does not contain nulls" in n for n in notices), notices


def test_null_rows_refuse_with_an_example_and_leave_nothing(busy_shop_url: str) -> None:
    with psycopg.connect(busy_shop_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {ORDERS} SET note = NULL WHERE id = %s", [shop.order_id(7)])
    with revision(busy_shop_url), pytest.raises(MigrationError) as info:
        set_not_null_online("Orders", "note", schema="Shop")
    assert f"id = {shop.order_id(7)}" in str(info.value)
    assert "Nothing was left behind" in str(info.value)
    assert CHECK not in _constraints(busy_shop_url)


def test_a_foreign_key_without_an_index_is_refused_saying_what_deletes_cost(
    busy_shop_url: str,
) -> None:
    _without_the_shops_foreign_key(busy_shop_url, indexed=False)
    with revision(busy_shop_url), pytest.raises(MigrationError) as info:
        _add_fk()
    message = str(info.value)
    assert 'each row deleted from "Shop"."Customer"' in message
    assert "300,000 rows" in message
    assert "create_index_online('ix_Orders_customerId'" in message
    assert FK not in _constraints(busy_shop_url)
    with revision(busy_shop_url):
        add_foreign_key_online(FK, "Orders", ["customerId"], "Customer", ["id"], schema="Shop",
                               allow_unindexed=True)  # fmt: skip
    assert _constraints(busy_shop_url)[FK] == ("f", True)


def test_an_orphan_row_fails_validation_with_its_key_and_leaves_nothing(
    busy_shop_url: str,
) -> None:
    _without_the_shops_foreign_key(busy_shop_url, indexed=True)
    with psycopg.connect(busy_shop_url, autocommit=True) as conn:
        conn.execute(f"""UPDATE {ORDERS} SET "customerId" = 999999 WHERE id = %s""",
                     [shop.order_id(3)])  # fmt: skip
    with revision(busy_shop_url), pytest.raises(MigrationError) as info:
        _add_fk()
    assert "=(999999) is not present" in str(info.value)
    assert FK not in _constraints(busy_shop_url)


def test_a_duplicate_fails_the_unique_build_with_its_key_and_leaves_no_index(
    busy_shop_url: str,
) -> None:
    with revision(busy_shop_url), pytest.raises(MigrationError) as info:
        add_unique_online("uq_Orders_customerId", "Orders", ["customerId"], schema="Shop")
    message = str(info.value)
    assert 'Key ("customerId")=(' in message
    assert "is duplicated" in message
    assert message.count("No INVALID index was left behind") == 1
    assert one_row(busy_shop_url, 'SELECT to_regclass(\'"Shop"."uq_Orders_customerId"\')') is None


@pytest.mark.parametrize(
    ("column", "type_", "why"),
    [
        ("total", "numeric(10,3)", "rewrites the table"),
        ("status", "integer", "without a USING expression"),
        ("total", "bigint", "rewrites the table"),
    ],
)
def test_a_type_change_that_rewrites_is_refused(
    busy_shop_url: str, column: str, type_: str, why: str
) -> None:
    before = one_row(busy_shop_url, "SELECT relfilenode FROM pg_class WHERE oid = %s::regclass",
                  [ORDERS])  # fmt: skip
    with revision(busy_shop_url), pytest.raises(MigrationError, match=why) as info:
        change_column_type_online("Orders", column, type_, schema="Shop")
    assert "expand/contract" in str(info.value)
    after = one_row(busy_shop_url, "SELECT relfilenode FROM pg_class WHERE oid = %s::regclass",
                 [ORDERS])  # fmt: skip
    assert after == before


def test_a_wider_varchar_on_an_indexed_column_keeps_table_and_index_files(
    busy_shop_url: str,
) -> None:
    files = """SELECT relfilenode FROM pg_class WHERE oid IN
               ('"Shop"."Customer"'::regclass, '"Shop"."ix_Customer_email"'::regclass)
               ORDER BY oid"""
    before = one_row(busy_shop_url, f"SELECT array_agg(relfilenode) FROM ({files}) f")
    with revision(busy_shop_url):
        change_column_type_online("Customer", "email", "varchar(255)", schema="Shop")
    assert one_row(busy_shop_url, f"SELECT array_agg(relfilenode) FROM ({files}) f") == before


def test_the_expand_contract_recipe_of_the_docs_works_while_the_shop_writes(
    busy_shop_url: str,
) -> None:
    """docs/migrations.md, 'Renames and type changes': total numeric -> totalCents bigint."""
    from alembic import op

    with writing(busy_shop_url, step=shop.traffic) as writer, revision(busy_shop_url):
        add_column_online("Orders", "totalCents", "bigint", schema="Shop")
        op.execute("""
            CREATE FUNCTION "Shop".orders_total_cents() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW."totalCents" := round(NEW.total * 100); RETURN NEW; END $$;
            CREATE TRIGGER orders_total_cents BEFORE INSERT OR UPDATE OF total
                ON "Shop"."Orders" FOR EACH ROW EXECUTE FUNCTION "Shop".orders_total_cents();
        """)
        backfill("Orders", {"totalCents": "round(total * 100)"}, schema="Shop",
                 where='"totalCents" IS NULL', batch_size=10_000)  # fmt: skip
        set_not_null_online("Orders", "totalCents", schema="Shop")
    assert writer.stats().failures == 0, writer.failures[:3]
    wrong = 'SELECT count(*) FROM "Shop"."Orders" WHERE "totalCents" <> round(total * 100)'
    assert one_row(busy_shop_url, wrong) == 0
    assert _not_null(busy_shop_url, "totalCents")
    with psycopg.connect(busy_shop_url, autocommit=True) as conn:  # a write after the switch
        conn.execute(f"UPDATE {ORDERS} SET total = 12.34 WHERE id = %s", [shop.order_id(5)])
    moved = f'SELECT "totalCents" FROM {ORDERS} WHERE id = %s'
    assert one_row(busy_shop_url, moved, [shop.order_id(5)]) == 1234


@pytest.mark.timing
def test_a_backfill_backs_off_while_sessions_wait_for_locks(
    busy_shop_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another session queued for a lock: the next batch waits until the queue is gone."""
    with (
        psycopg.connect(busy_shop_url) as holder,
        psycopg.connect(busy_shop_url, autocommit=True) as waiter,
    ):
        holder.execute('LOCK TABLE "Shop"."Customer" IN ACCESS EXCLUSIVE MODE')
        queued = threading.Thread(
            target=lambda: waiter.execute('SELECT count(*) FROM "Shop"."Customer"')
        )
        queued.start()
        released = threading.Timer(1.0, holder.rollback)
        released.start()
        try:
            with (
                caplog.at_level(logging.INFO, logger="dbtune.migrations"),
                revision(busy_shop_url),
            ):
                backfill("Orders", {"note": "upper(note)"}, schema="Shop", batch_size=100_000)
        finally:
            released.join()
            queued.join()
    assert "backing off" in caplog.text
    assert "1 session(s) waiting for locks" in caplog.text
    assert one_row(busy_shop_url, f"SELECT count(*) FROM {ORDERS} WHERE note <> upper(note)") == 0


def test_a_foreign_key_of_the_same_name_and_another_action_is_refused(busy_shop_url: str) -> None:
    _without_the_shops_foreign_key(busy_shop_url, indexed=True)
    with revision(busy_shop_url):
        _add_fk()  # ON DELETE CASCADE
    with revision(busy_shop_url), pytest.raises(MigrationError, match="another definition"):
        add_foreign_key_online(FK, "Orders", ["customerId"], "Customer", ["id"], schema="Shop")
    _fk_state(busy_shop_url)


@pytest.mark.timing
def test_a_backfill_never_holds_a_writer_longer_than_its_time_bound(
    busy_shop_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """[steady] item 1: 10,000-row batches stalled the shop's writer 0.8-2.6 s. With batches
    bounded by time (``max_batch_s=0.2``, ``batch_size`` the ceiling) the writer's worst update
    stays under twice the bound plus 100 ms, and the sizes adapt (logged)."""
    with (
        caplog.at_level(logging.DEBUG, logger="dbtune.migrations"),
        writing(busy_shop_url, step=shop.traffic) as writer,
        revision(busy_shop_url),
    ):
        backfill("Orders", {"total": "total + 1000"}, where="total < 1000", schema="Shop",
                 batch_size=10_000, max_batch_s=0.2)  # fmt: skip
    stats = writer.stats()
    sizes = [int(m.split(" rows in ")[0].rsplit(": ", 1)[1])
             for m in caplog.messages if " rows in " in m]  # fmt: skip
    print(f"max_batch_s=0.2, batch_size=10000: {stats.inserts} writes, worst "
          f"{stats.worst_s * 1000:.0f} ms, p99 {stats.p99_s * 1000:.0f} ms; "
          f"{len(sizes)} batches of {min(sizes)}-{max(sizes)} rows")  # fmt: skip
    assert stats.failures == 0, writer.failures[:3]
    assert stats.worst_s < 2 * 0.2 + 0.1, stats
    assert len(set(sizes)) > 3  # grown from the first batch, not one fixed size
    assert max(sizes) <= 10_000 + 100  # the ceiling (plus orders the writer placed meanwhile)
    left = one_row(busy_shop_url, 'SELECT count(*) FROM "Shop"."Orders" WHERE total < 1000')
    assert left <= (stats.inserts + 2) // 3  # only orders the writer placed behind the walk
    # Side by side, the same table and writer with fixed 10,000-row batches (printed only).
    with writing(busy_shop_url, step=shop.traffic) as fixed, revision(busy_shop_url):
        backfill("Orders", {"total": "total - 1000"}, where="total >= 1000", schema="Shop",
                 batch_size=10_000, max_batch_s=None)  # fmt: skip
    was = fixed.stats()
    print(
        f"max_batch_s=None, batch_size=10000: {was.inserts} writes, worst "
        f"{was.worst_s * 1000:.0f} ms, p99 {was.p99_s * 1000:.0f} ms"
    )
