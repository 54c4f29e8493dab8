"""The pytest hooks of ``--dbtune-plans``: which test is running, the summary, the files, and
the drivers put back as they were."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dbtune.config import Config
from dbtune.pytest_plans import report
from dbtune.pytest_plans.drivers import DriverWatch
from dbtune.pytest_plans.recorder import PlanRecorder


@dataclass
class PlansPlugin:
    recorder: PlanRecorder
    watch: DriverWatch

    @classmethod
    def start(cls, config: Config, *, strict: bool) -> PlansPlugin:
        """A recorder with the drivers watched from now on."""
        recorder = PlanRecorder(config, strict=strict)
        watch = DriverWatch(recorder)
        watch.install()
        return cls(recorder, watch)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        self.recorder.current_test = item.nodeid
        try:
            return (yield)
        finally:
            self.recorder.current_test = "(between tests)"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        report.terminal_summary(self.recorder, terminalreporter)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        options = session.config.option
        if options.dbtune_plans_report:
            path = Path(options.dbtune_plans_report)
            if path.suffix == ".xml":
                from dbtune.results import render_junit

                text = render_junit(report.report(self.recorder))
            else:
                text = report.as_json(self.recorder)
            path.write_text(text)
        if options.dbtune_write_workload:
            report.write_workload(self.recorder, Path(options.dbtune_write_workload))
        if self.recorder.strict and self.recorder.flagged() and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.watch.uninstall()
        self.recorder.close()
