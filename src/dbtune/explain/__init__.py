"""Running hot queries under EXPLAIN and reading their plans."""
