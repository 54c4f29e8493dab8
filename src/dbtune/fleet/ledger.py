"""``fleet upgrade --ledger FILE``: what a rollout did, one JSON line per event, as it goes.

Each target's start and end (its result, revision and error) are appended and flushed the
moment they happen, so a run that is killed leaves its record up to the kill. A rerun reads
the file first: a target that started but never ended was cut off mid-upgrade (its revision is
read again like any other's, and it is named in a note).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from dbtune.errors import UsageError
from dbtune.fleet.targets import Target


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._file = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the ledger {path}: {exc.strerror}") from None

    def interrupted(self) -> list[str]:
        """The targets whose last event in the file is a start: cut off by a killed run."""
        last: dict[str, str] = {}
        for line in self.path.read_text("utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by the kill itself
            if isinstance(entry, dict) and "target" in entry:
                last[str(entry["target"])] = str(entry.get("event"))
        return [name for name, event in last.items() if event == "start"]

    def write(self, target: Target, event: str, **fields: Any) -> None:
        entry = {"time": round(time.time(), 3), "target": target.name, "event": event, **fields}
        with self._lock:
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
