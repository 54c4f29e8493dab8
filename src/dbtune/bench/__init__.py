"""Measurement helpers shared by the benchmarks in ``scripts/`` and the tests."""
