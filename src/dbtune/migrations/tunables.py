"""The lock budget of an online operation: keyword arguments, then ``-x``, then env, defaults.

A revision author sets a budget in code; an operator overrides it for one run with ``alembic -x
lock_timeout=2s -x lock_retries=3`` or for a deployment with ``DBTUNE_LOCK_TIMEOUT`` /
``DBTUNE_LOCK_RETRIES``. A budget that makes no sense (a negative retry count, a timeout that is
not a duration) is refused before anything runs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext

from dbtune.errors import UsageError

DEFAULT_LOCK_TIMEOUT = "5s"
DEFAULT_LOCK_RETRIES = 5
MAX_LOCK_RETRIES = 100

_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>us|ms|s|min|h|d)?$")
_UNIT_S = {"us": 0.000001, "ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class Tunables:
    lock_timeout: str  # as PostgreSQL reads it, e.g. "5s"
    lock_timeout_s: float
    lock_retries: int


def duration_s(value: str, what: str = "lock_timeout") -> float:
    """``"5s"`` -> 5.0, ``"300ms"`` -> 0.3, ``"2min"`` -> 120.0, ``"500"`` -> 0.5 (ms)."""
    match = _DURATION.match(value.strip())
    if match is None:
        raise UsageError(f"{what} {value!r} is not a duration such as 5s, 500ms, 2min or 1h")
    seconds = float(match.group("n")) * _UNIT_S[match.group("unit") or "ms"]
    if seconds <= 0:
        raise UsageError(f"{what} {value!r} must be more than zero (zero would wait forever)")
    return seconds


def x_setting(context: MigrationContext | None, key: str, env: str, default: str) -> str:
    """``-x key=value``, else the environment variable, else the default."""
    config = context.config if context is not None else None
    opts = getattr(config.cmd_opts, "x", None) if config is not None else None
    for item in opts or ():
        name, _, value = str(item).partition("=")
        if name.strip() == key:
            return value.strip()
    return os.environ.get(env, "").strip() or default


def tunables(
    context: MigrationContext | None,
    lock_timeout: str | None = None,
    lock_retries: int | None = None,
) -> Tunables:
    """The budget for one operation: arguments first, then ``-x``, the environment, defaults."""
    timeout = lock_timeout or x_setting(
        context, "lock_timeout", "DBTUNE_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT
    )
    if lock_retries is None:
        raw = x_setting(context, "lock_retries", "DBTUNE_LOCK_RETRIES", str(DEFAULT_LOCK_RETRIES))
        try:
            lock_retries = int(raw)
        except ValueError:
            raise UsageError(f"lock_retries {raw!r} is not an integer") from None
    if not 0 <= lock_retries <= MAX_LOCK_RETRIES:
        raise UsageError(
            f"lock_retries {lock_retries} is out of range: use 0 (one attempt) to "
            f"{MAX_LOCK_RETRIES}"
        )
    return Tunables(timeout.strip(), duration_s(timeout), lock_retries)
