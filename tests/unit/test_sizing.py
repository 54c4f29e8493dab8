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
