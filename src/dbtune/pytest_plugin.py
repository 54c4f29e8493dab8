"""``pytest --dbtune-plans``: check the plan of every distinct statement your tests send.

The entry point (``pytest11``) every pytest run of a project with dbtune installed loads, so it
holds only the options: the plugin (:mod:`dbtune.pytest_plans`), with explain, the advisor and
the drivers' hooks behind it, is imported only when ``--dbtune-plans`` is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dbtune", "dbtune: plan checks of the statements tests send")
    group.addoption(
        "--dbtune-plans",
        nargs="?",
        const="report",
        choices=("report", "strict"),
        default=None,
        help="plan every distinct statement the tests send; =strict fails the session on a finding",
    )
    group.addoption("--dbtune-plans-report", metavar="PATH", help="JSON, or JUnit for .xml")
    group.addoption(
        "--dbtune-write-workload", metavar="PATH", help="save the statements as a workload"
    )


def pytest_configure(config: pytest.Config) -> None:
    mode = config.getoption("dbtune_plans")
    if not mode:
        return
    from dbtune.config import load_config
    from dbtune.pytest_plans.plugin import PlansPlugin

    plugin = PlansPlugin.start(load_config(Path(config.rootpath)), strict=mode == "strict")
    config.pluginmanager.register(plugin, "dbtune-plans")
