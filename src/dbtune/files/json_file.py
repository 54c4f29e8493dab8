"""A JSON file a user hands dbtune (a report, a statistics file), read with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbtune.errors import UsageError


def load(path: Path, remedy: str) -> Any:
    """The file's JSON, or a :class:`UsageError` naming the file, what is wrong and ``remedy``
    (how to write the file again)."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}); {remedy}") from None
