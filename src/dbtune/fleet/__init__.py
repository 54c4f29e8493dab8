"""``dbtune fleet``: many databases, or tenant schemas of one, migrated and checked as one
rollout (:mod:`.targets` who, :mod:`.upgrade` the rollout, :mod:`.status` who is where)."""
