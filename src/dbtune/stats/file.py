"""The statistics file: versioned JSON, one entry per table with its indexes and columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbtune.errors import UsageError
from dbtune.files import json_file

FORMAT = "dbtune-stats"
VERSION = 1

RELATION_KEYS = ("relpages", "reltuples", "relallvisible")
COLUMN_KEYS = (
    "null_frac", "avg_width", "n_distinct", "most_common_vals", "most_common_freqs",
    "histogram_bounds", "correlation", "most_common_elems", "most_common_elem_freqs",
    "elem_count_histogram",
)  # fmt: skip
VALUE_KEYS = frozenset(
    {"most_common_vals", "histogram_bounds", "most_common_elems", "elem_count_histogram",
     "most_common_freqs", "most_common_elem_freqs"}
)  # fmt: skip
"""What ``--no-values`` leaves out: the columns' real values (and their frequencies, which
mean nothing without them). The planner then estimates equality and ranges from n_distinct
and the column's type: a skewed column (one heavy user) is planned as if uniform."""


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def read(path: Path) -> dict[str, Any]:
    """The file's data, or a one-line :class:`UsageError` saying why it is not one."""
    data = json_file.load(path, "a truncated file? Export it again with `dbtune stats export`")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f'{path} is not a dbtune statistics file (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise UsageError(
            f"{path} is version {data.get('version')!r} of the statistics file; this dbtune "
            f"reads version {VERSION}: export it again with this dbtune"
        )
    if not isinstance(data.get("tables"), list):
        raise UsageError(f'{path} has no "tables" list: a truncated file? Export it again')
    return data
