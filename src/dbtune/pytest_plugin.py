"""``pytest --dbtune-plans``: check the plan of every distinct statement your tests send.

The entry point (``pytest11``) every pytest run of a project with dbtune installed loads, so it
holds only the options: the recorder (:mod:`dbtune.plan_recorder`), with explain, the advisor
and the drivers' hooks behind it, is imported only when ``--dbtune-plans`` is given.
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
    from dbtune.plan_recorder import PlanRecorder

    recorder = PlanRecorder(load_config(Path(config.rootpath)), strict=mode == "strict")
    recorder.install()
    config.pluginmanager.register(recorder, "dbtune-plans")
