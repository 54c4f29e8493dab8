"""``[tool.dbtune]`` in the project's ``pyproject.toml``: the defaults a team agrees on once.

Read by the CLI and the pytest plugin; a command-line flag always wins. The file is found by
walking up from the current directory, as pytest and ruff find theirs. Parsing is strict, like
the workload's: an unknown key or a wrong type names the file and the key.

::

    [tool.dbtune]
    workload = "perf/workload.toml"   # explain's --workload, capture's --out
    dsn_env = "APP_DATABASE_URL"      # where the URL comes from without --dsn (DATABASE_URL)
    seq_scan_rows = 50000             # no_seq_scan's default threshold (10,000)
    allow_seq_scan = ["audit_log"]    # tables a Seq Scan is fine on (explain, the plugin)
    stats = "perf/prod-stats.json"    # the pytest plugin plans with production's statistics
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dbtune.checks import SEQ_SCAN_ROW_THRESHOLD
from dbtune.errors import UsageError

DEFAULT_DSN_ENV = "DATABASE_URL"


@dataclass(frozen=True, slots=True)
class Config:
    workload: str | None = None
    dsn_env: str = DEFAULT_DSN_ENV
    seq_scan_rows: int = SEQ_SCAN_ROW_THRESHOLD
    allow_seq_scan: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()  # doctor findings to leave out (see dbtune.doctor.selection)
    stats: str | None = None  # a `dbtune stats export` file for the pytest plugin
    source: str = "defaults"  # the file it came from, for messages

    def workload_path(self) -> str | None:
        """``workload`` resolved against the directory of the file that names it."""
        return self._resolved(self.workload)

    def stats_path(self) -> str | None:
        """``stats`` resolved against the directory of the file that names it."""
        return self._resolved(self.stats)

    def _resolved(self, path: str | None) -> str | None:
        if path is None or self.source == "defaults":
            return path
        return str(Path(self.source).parent / path)


_TYPES: dict[str, type | tuple[type, ...]] = {
    "workload": str, "dsn_env": str, "seq_scan_rows": int, "allow_seq_scan": list,
    "ignore": list, "stats": str,
}  # fmt: skip


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def parse_config(data: Any, source: str) -> Config:
    """The ``[tool.dbtune]`` table ``data`` as a :class:`Config`; errors name ``source``."""
    if not isinstance(data, dict):
        raise UsageError(f"{source}: [tool.dbtune] must be a table")
    known = {f.name for f in fields(Config)} - {"source"}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        value: Any = raw
        if key not in known:
            raise UsageError(
                f"{source}: [tool.dbtune] {key}: unknown key; known: {', '.join(sorted(known))}"
            )
        wanted = _TYPES[key]
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise UsageError(f"{source}: [tool.dbtune] {key}: wrong type ({value!r})")
        if key in ("allow_seq_scan", "ignore"):
            names = list(raw)
            if not all(isinstance(v, str) and v for v in names):
                what = "table names" if key == "allow_seq_scan" else "ignore entries"
                raise UsageError(f"{source}: [tool.dbtune] {key}: a list of {what}")
            value = tuple(names)
        if key == "seq_scan_rows" and value < 0:
            raise UsageError(f"{source}: [tool.dbtune] {key}: must not be negative")
        values[key] = value
    return Config(**values, source=source)


def load_config(start: Path | None = None) -> Config:
    """The nearest ``pyproject.toml``'s ``[tool.dbtune]``, or the defaults."""
    path = find_pyproject(start)
    if path is None:
        return Config()
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    table = document.get("tool", {}).get("dbtune")
    return Config() if table is None else parse_config(table, str(path))
