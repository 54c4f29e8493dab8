"""``dbtune stats``: production's planner statistics, carried to a test-sized database.

On a few thousand rows the planner chooses Seq Scans and bitmap scans production never would.
PostgreSQL 18 can set a table's and a column's statistics directly
(``pg_restore_relation_stats``, ``pg_restore_attribute_stats``), so a test database can plan
as production does without its rows. :mod:`.export` reads them (``pg_class``, ``pg_stats``;
PostgreSQL 14+; a role with ``pg_read_all_stats`` sees every column) into a versioned JSON file
(:mod:`.file`); :mod:`.restore` applies a file to another database of the same schema, by name,
in one transaction, and lists what it could not match.
"""
