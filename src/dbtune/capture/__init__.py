"""Workloads that write themselves: from ``pg_stat_statements`` (:mod:`.statements`) to a
workload file with baseline expectations (:mod:`.workload_file`)."""
