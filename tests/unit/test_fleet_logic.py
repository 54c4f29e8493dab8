"""The fleet's pure logic, no server: who the targets are, how findings are grouped and given
to tenants, and what counts as drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtune.commands.fleet import FleetTargets, targets
from dbtune.errors import UsageError
from dbtune.fleet.grouping import grouped, owned
from dbtune.fleet.status import drift
from dbtune.fleet.targets import Target, from_file, parse_shard, shard

URL = "postgresql://app@db1:5433/shop"


def test_a_file_of_dsns_names_each_target_by_its_server_and_skips_comments(
    tmp_path: Path,
) -> None:
    path = tmp_path / "targets.txt"
    path.write_text(f"# the fleet\n{URL}\n\npostgresql://app@db2/shop  # second\n")
    found = from_file(path)
    assert [t.url for t in found] == [URL, "postgresql://app@db2/shop"]
    assert found[0].name != found[1].name
    assert found[0].server() == ("db1", "5433")
    assert found[1].server() == ("db2", "5432")


def test_a_toml_file_gives_names_groups_and_schemas(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        f'[[target]]\ndsn = "{URL}"\nname = "eu"\ngroup = "canary"\n\n'
        f'[[target]]\ndsn = "{URL}"\nname = "acme"\nschema = "acme"\n'
    )
    eu, acme = from_file(path)
    assert (eu.name, eu.group, eu.schema) == ("eu", "canary", None)
    assert (acme.name, acme.schema) == ("acme", "acme")
    assert "search_path=acme" in acme.session_url()
    assert eu.session_url() == URL


@pytest.mark.parametrize(
    ("text", "suffix", "said"),
    [
        ("# nothing here\n", ".txt", "names no target"),
        ("[[target]]\nname = 'x'\n", ".toml", 'has no "dsn"'),
        ("not = [toml", ".toml", "is not TOML"),
        (f'[[target]]\ndsn = "{URL}"\nname = "a"\n[[target]]\ndsn = "{URL}"\nname = "a"\n',
         ".toml", "two targets are called a"),
    ],
)  # fmt: skip
def test_a_bad_targets_file_is_one_usage_error(
    tmp_path: Path, text: str, suffix: str, said: str
) -> None:
    path = tmp_path / f"targets{suffix}"
    path.write_text(text)
    with pytest.raises(UsageError, match=said):
        from_file(path)


def test_the_fleet_is_named_exactly_once() -> None:
    with pytest.raises(UsageError, match="name the fleet once"):
        targets(FleetTargets())
    with pytest.raises(UsageError, match="name the fleet once"):
        targets(FleetTargets(file=Path("a"), schemas="tenant_%", url=URL))


def test_findings_are_grouped_by_kind_with_the_tenant_schema_taken_out() -> None:
    a, b, c = (Target(f"t{i}", URL, schema=f"tenant_{i}") for i in range(3))
    found = [
        (a, "unindexed_foreign_keys", "tenant_0.items.order_id has no index"),
        (b, "unindexed_foreign_keys", "tenant_1.items.order_id has no index"),
        (c, "table_bloat", "tenant_2.log is 80 % dead"),
        (a, "unindexed_foreign_keys", "tenant_0.items.order_id has no index"),  # seen twice
    ]
    groups = grouped(found)
    assert [(g.kind, g.text, g.targets) for g in groups] == [
        ("unindexed_foreign_keys", "<schema>.items.order_id has no index", ("t0", "t1")),
        ("table_bloat", "<schema>.log is 80 % dead", ("t2",)),
    ]


def test_a_schema_named_like_a_table_is_taken_out_only_as_a_qualifier() -> None:
    tenant = Target("orders", URL, schema="orders")
    (group,) = grouped([(tenant, "k", 'orders.orders has no index on "orders".x')])
    assert group.text == "<schema>.orders has no index on <schema>.x"


def test_a_finding_goes_to_the_tenant_whose_schema_it_names() -> None:
    a, b = Target("a", URL, schema="tenant_a"), Target("b", URL, schema="tenant_b")
    findings = [
        ("tenant_b", "tenant_b.items", "redundant_indexes", "one"),  # the finding's own schema
        (None, "tenant_a.items", "stale_statistics", "two"),  # named by its subject
        ("public", "public.audit", "table_bloat", "three"),  # no tenant's: nobody's
    ]
    assert list(owned([a, b], findings)) == [
        (b, "redundant_indexes", "one"),
        (a, "stale_statistics", "two"),
    ]


def test_a_database_target_owns_every_finding_on_it() -> None:
    database = Target("db1", URL)
    findings = [("public", "public.audit", "table_bloat", "x"), (None, "server", "conn", "y")]
    assert [kind for _, kind, _ in owned([database], findings)] == ["table_bloat", "conn"]


def test_drift_names_the_missing_the_extra_the_different_and_the_invalid() -> None:
    plain = ("CREATE INDEX ix ON t USING btree (a)", True)
    by_target = {
        "t1": {"ix": plain, "ix_b": ("CREATE INDEX ix_b ON t USING btree (b)", True)},
        "t2": {"ix": plain, "ix_b": ("CREATE INDEX ix_b ON t USING btree (b)", True)},
        "t3": {"ix": ("CREATE INDEX ix ON t USING btree (a, c)", True)},
        "t4": {"ix": (plain[0], False), "ix_b": ("CREATE INDEX ix_b ON t USING btree (b)", True),
               "extra": ("CREATE INDEX extra ON t USING btree (z)", True)},
    }  # fmt: skip
    found = drift(by_target)
    assert found == {
        "index ix differs: CREATE INDEX ix ON t USING btree (a, c) "
        "(most have: CREATE INDEX ix ON t USING btree (a))": ["t3"],
        "INVALID index ix: a build that failed half-way (drop it, rebuild)": ["t4"],
        "missing index ix_b (most have: CREATE INDEX ix_b ON t USING btree (b))": ["t3"],
        "extra index extra: CREATE INDEX extra ON t USING btree (z)": ["t4"],
    }


def test_a_fleet_that_agrees_has_no_drift() -> None:
    same = {"ix": ("CREATE INDEX ix ON t USING btree (a)", True)}
    assert drift({"t1": same, "t2": dict(same), "t3": dict(same)}) == {}


def test_shards_cover_every_target_once_and_adding_one_moves_no_other() -> None:
    fleet = [Target(f"tenant_{i:03d}", URL, schema=f"tenant_{i:03d}") for i in range(200)]
    halves = [shard(fleet, 1, 2), shard(fleet, 2, 2)]
    assert sorted(t.name for half in halves for t in half) == sorted(t.name for t in fleet)
    assert all(len(half) > 50 for half in halves)  # a split, not everything in one
    quarters = [{t.name for t in shard(fleet, k, 4)} for k in range(1, 5)]
    grown = [{t.name for t in shard([*fleet, Target("new", URL, schema="new")], k, 4)}
             for k in range(1, 5)]  # fmt: skip
    assert [g - {"new"} for g in grown] == quarters


@pytest.mark.parametrize("text", ["0/2", "3/2", "1-2", "a/b", "1/0"])
def test_a_bad_shard_is_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)
