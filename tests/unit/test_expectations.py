"""One list of expectations: the workload keys, the checks they enable, assert_plan's keywords."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from dbtune.checks import registry
from dbtune.testing import assert_plan
from dbtune.workload import Expectations, expectation_problem


def test_every_check_declares_known_keys_and_every_key_enables_a_check() -> None:
    declared: set[str] = set()
    for check_id in registry():
        keys = importlib.import_module(f"dbtune.checks.{check_id}").ENABLED_BY
        assert keys, check_id
        assert set(keys) <= set(Expectations.keys()), check_id
        declared |= set(keys)
    assert declared == set(Expectations.keys())


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("indx", "i", "unknown key"),
        ("no_sort", "yes", "must be bool"),
        ("max_buffers", True, "must be int"),
        ("max_buffers", -1, "must not be negative"),
        ("max_filter_ratio", 5, "is a fraction"),
    ],
)
def test_one_validation_for_files_and_keywords(key: str, value: Any, problem: str) -> None:
    assert problem in (expectation_problem(key, value) or "")
    with pytest.raises(TypeError, match=problem):
        assert_plan(None, "SELECT 1", **{key: value})


def test_valid_values_pass() -> None:
    assert Expectations.from_mapping({"index": "ix", "max_filter_ratio": 0.5}) == Expectations(
        index="ix", max_filter_ratio=0.5
    )
