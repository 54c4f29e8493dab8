"""dbtune's commands as Python functions, on the model of Alembic's ``command`` module.

Each command is one documented function taking a frozen options record and returning its
tool's report; the CLI parses arguments into those records, calls the function and renders what
it returns. This is the tier where tools meet: a command may wire explain, the advisor, doctor
and the design tool together, while the tools never import one another nor this package.

- :mod:`.explain` — ``explain.run(ExplainOptions) -> ExplainReport``
- :mod:`.advise` — ``advise.run(AdviseOptions) -> Design``
- :mod:`.doctor` — ``doctor.run(DoctorCommand) -> DoctorReport``
- :mod:`.fleet` — ``fleet.upgrade``, ``fleet.status``, ``fleet.explain``, ``fleet.doctor``
- :mod:`.pool` — ``pool.recommend`` and ``pool.tune(TuneOptions) -> Tuned``
- :mod:`.stats` — ``stats.export``, ``stats.load`` and :class:`~.stats.StatsFile`, the one
  statistics import handed to explain, trace and the pytest plugin
- :mod:`.trace` — ``trace.run(TraceRun) -> Traced``
- :mod:`.capture` — ``capture.run(CaptureOptions) -> Captured``
"""
