"""Workload files shipped with dbtune (package data)."""
