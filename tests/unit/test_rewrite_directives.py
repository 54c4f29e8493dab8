"""The autogenerate hook: index builds and drops on existing tables come out online."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import render_python_code
from alembic.operations import ops

from dbtune.migrations import rewrite_directives


def _script(upgrade: list[ops.MigrateOperation]) -> ops.MigrationScript:
    up = ops.UpgradeOps(ops=upgrade)
    return ops.MigrationScript("r1", up, up.reverse())


def test_existing_tables_get_the_online_helpers_and_new_tables_keep_plain_ops() -> None:
    script = _script(
        [
            ops.ModifyTableOps(
                "Orders",
                [
                    ops.CreateIndexOp(
                        "ix_Orders_customerId",
                        "Orders",
                        ["customerId", "createdAt"],
                        schema="Shop",
                        postgresql_include=["total"],
                        postgresql_where=sa.text("status = 'open'"),
                    ),
                    ops.DropIndexOp("ix_old", "Orders", schema="Shop"),
                ],
                schema="Shop",
            ),
            ops.CreateTableOp("fresh", [sa.Column("id", sa.Integer, primary_key=True)]),
            ops.CreateIndexOp("ix_fresh_id", "fresh", ["id"]),
            ops.CreateIndexOp("ix_expr", "Orders", [sa.text("lower(note)")], schema="Shop"),
        ]
    )
    rewrite_directives(None, None, [script])
    assert script.upgrade_ops is not None
    assert script.downgrade_ops is not None
    up = render_python_code(script.upgrade_ops)
    assert (
        "create_index_online('ix_Orders_customerId', 'Orders', ['customerId', 'createdAt'], "
        "include=['total'], where=\"status = 'open'\", schema='Shop')"
    ) in up
    assert "drop_index_online('ix_old', 'Orders', schema='Shop')" in up
    assert "op.create_index('ix_fresh_id', 'fresh'" in up  # a new table: nobody waits on it
    assert "op.create_index('ix_expr'" in up  # an expression: left as written
    down = render_python_code(script.downgrade_ops)
    assert "drop_index_online('ix_Orders_customerId', 'Orders', schema='Shop')" in down
    assert "op.drop_index('ix_fresh_id'" in down
