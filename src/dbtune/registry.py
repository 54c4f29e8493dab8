"""One registry for the tools whose rules are one module each: plan checks (``checks/``),
doctor's findings (``doctor/findings/``) and trace's rules (``trace/rules/``).

A rule is a module of the package named by its id; a module starting with ``_`` is a helper.
Adding a rule is adding a file: the lists are derived, never hand-kept.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from functools import cache
from types import ModuleType


@cache
def _modules_in(package: str, path: tuple[str, ...]) -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(list(path)), key=lambda m: m.name):
        if not info.name.startswith("_"):
            found[info.name] = importlib.import_module(f"{package}.{info.name}")
    return found


def modules_in(package: str, path: Iterable[str]) -> dict[str, ModuleType]:
    """The rule modules of ``package`` (its ``__name__`` and ``__path__``), by id, in id
    order; imported once per process."""
    return dict(_modules_in(package, tuple(path)))
