"""Set the storage up as the library does (``create_all``), then fill it: one study holds most
trials (the heaviest parent a capture picks), the others share the rest."""

from __future__ import annotations

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests.storage_app.models import Base

TRIALS = 60_000
STUDIES = 2_000
HEAVY_SHARE = 0.6
EVENTS = 60_000

_FILL = [
    """INSERT INTO studies (study_id, study_name)
       SELECT g, 'study-' || g FROM generate_series(1, %(studies)s) g""",
    # Trials in time order; the first study gets HEAVY_SHARE of them.
    """INSERT INTO trials (trial_id, number, study_id, state, datetime_start)
       SELECT g, g,
              CASE WHEN (g * 7919) %% 100 < %(heavy)s * 100 THEN 1
                   ELSE 2 + g %% (%(studies)s - 1) END,
              CASE WHEN g %% 500 = 0 THEN 'RUNNING' WHEN g %% 10 = 0 THEN 'FAIL'
                   ELSE 'COMPLETE' END,
              timestamptz '2026-11-01' + g * interval '1 minute'
       FROM generate_series(1, %(trials)s) g""",
    """INSERT INTO trial_params (trial_id, param_name, param_value)
       SELECT t, p, random() FROM generate_series(1, %(trials)s) t,
              unnest(ARRAY['x', 'y']) p""",
    """INSERT INTO trial_user_attributes (trial_id, key, value_json)
       SELECT t, 'note', '"trial ' || t || '"' FROM generate_series(1, %(trials)s) t""",
    """INSERT INTO events (id, kind, created_at, payload)
       SELECT g, (ARRAY['login', 'logout', 'purchase', 'refund', 'view'])[1 + g %% 5]
                 || CASE WHEN g %% 1001 = 0 THEN '-rare' ELSE '' END,
              timestamptz '2026-11-01' + g * interval '1 second', repeat('p', g %% 50)
       FROM generate_series(1, %(events)s) g""",
]


def install(url: str) -> None:
    """``create_all`` on the library's metadata, the data, then VACUUM ANALYZE."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                           poolclass=NullPool)  # fmt: skip
    Base.metadata.create_all(engine)
    engine.dispose()
    sizes = {"studies": STUDIES, "trials": TRIALS, "heavy": HEAVY_SHARE, "events": EVENTS}
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _FILL:
            conn.execute(statement, sizes)
        conn.execute("VACUUM ANALYZE")
