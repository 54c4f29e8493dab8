"""Pool sizing maths and the CPU count it starts from."""

from __future__ import annotations

import os

import pytest

from dbtune import PoolSize, pool_size, usable_cpus
from dbtune.errors import UsageError


@pytest.mark.parametrize(("cpus", "expected"), [(1, (1, 7)), (2, (2, 9)), (8, (8, 21))])
def test_min_is_cpus_max_is_twice_plus_five(cpus: int, expected: tuple[int, int]) -> None:
    size = pool_size(cpus)
    assert (size.min_size, size.max_size) == expected
    assert size.cpus == cpus


def test_zero_cpus_is_an_error() -> None:
    with pytest.raises(UsageError):
        pool_size(0)


def test_default_uses_the_affinity_of_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBTUNE_CPUS", raising=False)
    expected = len(os.sched_getaffinity(0))
    found = usable_cpus()
    assert found.count == expected
    assert found.source == f"affinity: {expected}"
    assert pool_size() == PoolSize(expected, 2 * expected + 5, expected, found.source)


def test_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBTUNE_CPUS", "4")
    assert pool_size() == PoolSize(4, 13, 4, "DBTUNE_CPUS=4")


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_bad_env_override_names_the_variable(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("DBTUNE_CPUS", bad)
    with pytest.raises(UsageError, match=f"DBTUNE_CPUS='{bad}'"):
        usable_cpus()


def test_fleet_is_clamped_to_the_server_budget(caplog: pytest.LogCaptureFixture) -> None:
    size = pool_size(4, instances=10, server_max_connections=100, reserved=3)
    assert (size.min_size, size.max_size) == (4, 9)  # 97 // 10
    assert size.clamped_by is not None
    assert "97 shared by 10 instance(s): max lowered from 13 to 9" in size.clamped_by
    assert "clamped" in caplog.text


def test_clamp_never_leaves_min_above_max() -> None:
    size = pool_size(8, instances=30, server_max_connections=100)
    assert (size.min_size, size.max_size) == (3, 3)


def test_fitting_fleet_is_not_clamped() -> None:
    size = pool_size(2, instances=5, server_max_connections=100)
    assert (size.min_size, size.max_size, size.clamped_by) == (2, 9, None)


def test_budget_too_small_for_the_fleet() -> None:
    with pytest.raises(UsageError, match="raise max_connections or put PgBouncer in front"):
        pool_size(2, instances=200, server_max_connections=100)


def test_pool_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBTUNE_POOL_MIN", "3")
    monkeypatch.setenv("DBTUNE_POOL_MAX", "30")
    size = pool_size(2)
    assert (size.min_size, size.max_size) == (3, 30)
    assert "DBTUNE_POOL_MAX=30" in size.source


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DBTUNE_POOL_MIN": "zero"}, "DBTUNE_POOL_MIN='zero'"),
        ({"DBTUNE_POOL_MAX": "0"}, "DBTUNE_POOL_MAX='0'"),
        ({"DBTUNE_POOL_MAX": "-4"}, "DBTUNE_POOL_MAX='-4'"),
        ({"DBTUNE_POOL_MIN": "10", "DBTUNE_POOL_MAX": "5"}, "min 10 is above max 5"),
    ],
)
def test_bad_pool_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=message):
        pool_size(2)


def test_an_explicit_max_below_the_cpus_lowers_min_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """doctor advises DBTUNE_POOL_MAX alone; on an 8-CPU machine a max of 4 must work."""
    monkeypatch.setenv("DBTUNE_POOL_MAX", "4")
    size = pool_size(8)
    assert (size.min_size, size.max_size) == (4, 4)
    assert "pool min lowered from 8 to DBTUNE_POOL_MAX=4" in caplog.text
