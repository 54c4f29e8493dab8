"""[tool.dbtune]: found upward from the working directory, strict about keys and types."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtune.config import Config, load_config, parse_config
from dbtune.errors import UsageError


def test_found_upward_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dbtune]\nworkload = "perf/w.toml"\ndsn_env = "APP_DB"\n'
        'seq_scan_rows = 500\nallow_seq_scan = ["audit_log"]\nstats = "perf/prod.json"\n'
    )
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    config = load_config(deep)
    assert config.workload_path() == str(tmp_path / "perf" / "w.toml")
    assert config.stats_path() == str(tmp_path / "perf" / "prod.json")
    assert config.dsn_env == "APP_DB"
    assert config.seq_scan_rows == 500
    assert config.allow_seq_scan == ("audit_log",)


def test_no_table_means_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(tmp_path) == Config()


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"workloads": "x"}, "workloads: unknown key"),
        ({"seq_scan_rows": "many"}, "seq_scan_rows: wrong type"),
        ({"seq_scan_rows": True}, "seq_scan_rows: wrong type"),
        ({"seq_scan_rows": -1}, "must not be negative"),
        ({"allow_seq_scan": ["ok", 3]}, "a list of table names"),
    ],
)
def test_bad_values_name_the_file_and_key(table: dict[str, object], problem: str) -> None:
    with pytest.raises(UsageError, match=problem) as info:
        parse_config(table, "/p/pyproject.toml")
    assert str(info.value).startswith("/p/pyproject.toml: [tool.dbtune]")
