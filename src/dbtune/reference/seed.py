"""Synthetic data that behaves like production, generated inside the server.

Real services have a few very heavy users and a long tail of light ones, rows that arrive in
time order interleaved across users, and message bodies that are mostly short with a tail into
tens of kilobytes, some of it barely compressible. Those three properties are what make the
"latest N rows of one user" query slow without its index, and what decides whether an index
may INCLUDE a column, so the generator reproduces them. Everything is generated server-side
with ``generate_series`` (no rows cross the network) and is deterministic for a given seed:
``setseed()`` fixes ``random()``; only the timestamps move, laid out backwards from the current
minute so that the "today" and "due now" queries always find rows.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from dbtune.db import connect
from dbtune.errors import UsageError

DEFAULT_MESSAGES = 100_000
DEFAULT_USERS = 1_000
DEFAULT_SEED = 42
MAX_MESSAGES = 100_000_000
MAX_USERS = 10_000_000
MESSAGES_PER_ROW = {
    "food_entries": 10,
    "reminders": 50,
    "tracking_entries": 10,
    "xp_transactions": 5,
}
HISTORY_DAYS = 180
CHUNKS = 20

TABLES = (
    "users",
    "conversation_history",
    "food_entries",
    "reminders",
    "tracking_categories",
    "tracking_entries",
    "xp_transactions",
    "user_xp",
)

# A user's rank r in [1, users] drawn as floor((users + 1) ** random()) is log-uniform: P(r) is
# about 1 / (r ln users), Zipf with s = 1, so user 1 holds ~10 % of all rows.
_SKEWED_USER = "floor(power(%(users)s::float8 + 1, random()))::bigint"
# Rows are evenly spaced in time from HISTORY_DAYS ago up to this minute, in insertion order.
_TIME_OF_ROW = (
    "date_trunc('minute', now())"
    " - (%(total)s::int - g) * (%(days)s::int * interval '1 day' / %(total)s::int)"
)

_USERS = """
INSERT /* dbtune */ INTO users (id, name, timezone, created_at)
SELECT g, 'user ' || g,
       (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo'])[1 + g %% 4],
       now() - %(days)s::int * interval '1 day' - interval '1 day'
FROM generate_series(1, %(users)s::int) AS g
"""

# No ORDER BY on the inserts: a Function Scan feeds the INSERT in g order (no join; an INSERT's
# SELECT never runs in parallel), and sorting each chunk's rows, content and all, spilled to
# disk: about 30 % of the message load. The tracking entries keep theirs: there the sort
# decides the order the two random() calls run in, and so the values.
# Message length in characters is lognormal (median ~65, 99th percentile ~2 kB, rare rows
# into tens of kB): Box-Muller turns two uniform draws into a normal one (works before PG 16,
# which lacks random_normal()). One message in ten is hex noise, which TOAST cannot shrink.
MESSAGES_INSERT = f"""
INSERT /* dbtune */ INTO conversation_history
       (id, user_id, role, content, message_type, metadata, created_at)
SELECT %(id_base)s::bigint + g, u, role,
       CASE WHEN noisy THEN
            left((SELECT string_agg(md5(random()::text), '')
                  FROM generate_series(1, ceil(len / 32.0)::int)), len)
       ELSE left(repeat((ARRAY[
            'Sure, here is what I found about your question. ',
            'Can you remind me to drink water every two hours? ',
            'I had oatmeal with berries and a coffee for breakfast. ',
            'Your streak is now twelve days, keep going! ',
            'How many calories were in my lunch yesterday? '])[1 + (g %% 5)::int],
            ceil(len / 40.0)::int), len)
       END,
       CASE WHEN r < 0.90 THEN 'text' WHEN r < 0.95 THEN 'voice' WHEN r < 0.98 THEN 'image' END,
       CASE WHEN role = 'assistant'
            THEN jsonb_build_object('model', 'assistant-v2', 'tokens', len / 4) END,
       {_TIME_OF_ROW}
FROM (
    SELECT g,
           {_SKEWED_USER} AS u,
           CASE WHEN g %% 2 = 0 THEN 'user' ELSE 'assistant' END AS role,
           random() AS r,
           random() < 0.10 AS noisy,
           least(40000, greatest(1, exp(4.2 + 1.5 * sqrt(-2 * ln(1 - random()))
                                          * cos(2 * pi() * random())))::int) AS len
    FROM generate_series(%(lo)s::int, %(hi)s::int) AS g
) AS m
"""

_FOOD = f"""
INSERT /* dbtune */ INTO food_entries (user_id, description, calories, protein_g, carbs_g, fat_g,
                          meal_type, created_at)
SELECT {_SKEWED_USER},
       (ARRAY['oatmeal', 'chicken salad', 'pasta', 'apple', 'coffee', 'rice bowl'])[1 + g %% 6],
       50 + (random() * 850)::int, round((random() * 40)::numeric, 1),
       round((random() * 90)::numeric, 1), round((random() * 35)::numeric, 1),
       (ARRAY['breakfast', 'lunch', 'dinner', 'snack'])[1 + g %% 4],
       {_TIME_OF_ROW}
FROM generate_series(1, %(total)s::int) AS g
"""

_REMINDERS = f"""
INSERT /* dbtune */ INTO reminders (user_id, message, next_run_at, recurrence, active, created_at)
SELECT {_SKEWED_USER}, 'reminder ' || g,
       now() + (random() * 31 - 1) * interval '1 day',
       (ARRAY['daily', 'weekly', NULL])[1 + g %% 3],
       random() < 0.7,
       {_TIME_OF_ROW}
FROM generate_series(1, %(total)s::int) AS g
"""

_CATEGORIES = """
INSERT /* dbtune */ INTO tracking_categories (id, user_id, name, unit)
SELECT (u - 1) * 3 + k, u, (ARRAY['water', 'sleep', 'steps'])[k], (ARRAY['ml', 'h', NULL])[k]
FROM generate_series(1, %(users)s::int) AS u, generate_series(1, 3) AS k
ORDER BY 1
"""

_TRACKING = f"""
INSERT /* dbtune */ INTO tracking_entries (user_id, category_id, value, note, created_at)
SELECT u, (u - 1) * 3 + 1 + (g %% 3), round((random() * 3000)::numeric, 1), NULL,
       {_TIME_OF_ROW}
FROM (SELECT g, {_SKEWED_USER} AS u FROM generate_series(1, %(total)s::int) AS g) AS t
ORDER BY g
"""

_XP = f"""
INSERT /* dbtune */ INTO xp_transactions (user_id, amount, reason, created_at)
SELECT {_SKEWED_USER}, 5 + (random() * 45)::int,
       (ARRAY['message', 'food_log', 'streak', 'reminder_done'])[1 + g %% 4],
       {_TIME_OF_ROW}
FROM generate_series(1, %(total)s::int) AS g
"""

_USER_XP = """
INSERT /* dbtune */ INTO user_xp (user_id, total_xp, level)
SELECT u.id, coalesce(x.total, 0), 1 + coalesce(x.total, 0) / 1000
FROM users AS u
LEFT JOIN (SELECT user_id, sum(amount) AS total FROM xp_transactions GROUP BY user_id) AS x
       ON x.user_id = u.id
"""


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """How many rows each table gets: everything in proportion to the message count."""

    messages: int
    users: int
    seed: int

    def rows(self, table: str) -> int:
        """Rows for ``table``: one per so many messages (``MESSAGES_PER_ROW``), at least one
        per user."""
        return max(self.users, self.messages // MESSAGES_PER_ROW[table])

    def validate(self) -> None:
        if not 1 <= self.messages <= MAX_MESSAGES:
            raise UsageError(f"--messages must be 1 to {MAX_MESSAGES:,}, got {self.messages:,}")
        if not 1 <= self.users <= MAX_USERS:
            raise UsageError(f"--users must be 1 to {MAX_USERS:,}, got {self.users:,}")
        if not -(2**31) <= self.seed < 2**31:
            raise UsageError(f"--seed must fit in 32 bits, got {self.seed}")


Progress = Callable[[str, int], None]
"""Called after each step with a description and how many rows it added."""


def _no_progress(step: str, rows: int) -> None:
    return None


def existing_rows(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    """Messages already in ``conversation_history``; raises when the schema is missing."""
    found = conn.execute("SELECT to_regclass('conversation_history') IS NOT NULL").fetchone()
    if not found or not found[0]:
        raise UsageError(
            "table conversation_history does not exist: run `alembic upgrade head` "
            "(or `alembic -x url=... upgrade head`) on this database first"
        )
    row = conn.execute("SELECT /* dbtune */ count(*) FROM conversation_history").fetchone()
    return int(row[0]) if row else 0


def tables_with_rows(conn: psycopg.Connection[tuple[Any, ...]]) -> list[str]:
    """The reference tables that hold at least one row (seeding needs them all empty)."""
    return [
        table
        for table in TABLES
        if conn.execute(
            sql.SQL("SELECT /* dbtune */ EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
        ).fetchone()
        == (True,)
    ]


_FOREIGN_KEYS = """
SELECT /* dbtune */ n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint AS k
JOIN pg_class AS c ON c.oid = k.conrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND k.conrelid = ANY(%(tables)s::regclass[])
ORDER BY k.conrelid, k.conname
"""

_SECONDARY_INDEXES = """
SELECT /* dbtune */ n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE i.indrelid = ANY(%(tables)s::regclass[]) AND i.indisvalid
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""


RESTORE_TABLE = "dbtune_seed_restore"
"""Where the seed keeps the exact definitions of the indexes and keys it drops for the load,
committed with the drop: a seed that is killed half-way leaves them there, and the next seed
puts them back before anything else."""


def _save_and_drop(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Record, then drop, the reference tables' indexes that back no constraint and their
    foreign keys: one build after the load is several times cheaper than keeping each index
    up to date row by row, and checking a key row by row (a trigger per inserted row) took
    about 45 % of the message load; adding it back checks all rows in one join."""
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (position serial PRIMARY KEY, kind text NOT NULL, "
            "statement text NOT NULL)"
        ).format(sql.Identifier(RESTORE_TABLE))
    )
    saved = sql.SQL("INSERT /* dbtune */ INTO {} (kind, statement) VALUES (%s, %s)").format(
        sql.Identifier(RESTORE_TABLE)
    )
    for schema, name, definition in conn.execute(_SECONDARY_INDEXES, {"tables": list(TABLES)}):
        conn.execute(saved, ["index", str(definition)])  # the server's own DDL text
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
    for schema, table, name, definition in conn.execute(
        _FOREIGN_KEYS, {"tables": list(TABLES)}
    ).fetchall():
        target = sql.Identifier(schema, table)
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            target, sql.Identifier(name), sql.SQL(str(definition))
        )
        conn.execute(saved, ["key", add.as_string(conn)])
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(target, sql.Identifier(name))
        )


def _interrupted(conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [RESTORE_TABLE]).fetchone()
    return bool(row and row[0])


def _restore(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Build each dropped index from its exact definition and add each key back (validated in
    one pass per table), then forget them; the caller commits."""
    rows = conn.execute(
        sql.SQL(
            "SELECT /* dbtune */ kind, statement FROM {} ORDER BY kind <> 'index', position"
        ).format(sql.Identifier(RESTORE_TABLE))
    ).fetchall()
    for _, statement in rows:
        conn.execute(sql.SQL(str(statement)))  # pg_get_indexdef's / pg_get_constraintdef's
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(RESTORE_TABLE)))


def _fix_identities(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    for table in ("users", "tracking_categories", "conversation_history"):
        conn.execute(
            sql.SQL(
                "SELECT /* dbtune */ setval(pg_get_serial_sequence({t}, 'id'), "
                "(SELECT coalesce(max(id), 0) + 1 FROM {i}), false)"
            ).format(t=sql.Literal(table), i=sql.Identifier(table))
        )


@dataclass(frozen=True, slots=True)
class _Step:
    """One statement of the load, with the random() seed of its own that makes its rows the
    same whichever session runs it, and whenever."""

    name: str
    query: str
    params: dict[str, Any]
    rows: int
    seed: float


def _steps(plan: SeedPlan) -> list[_Step]:
    """The load, users first: the message chunks, then the other tables (each its own seed)."""
    base: dict[str, Any] = {"users": plan.users, "days": HISTORY_DAYS}
    steps = [_Step("users", _USERS, base, plan.users, _step_seed(plan.seed, 0))]
    chunk = math.ceil(plan.messages / CHUNKS)
    for number, lo in enumerate(range(1, plan.messages + 1, chunk), start=1):
        hi = min(plan.messages, lo + chunk - 1)
        params = {**base, "total": plan.messages, "lo": lo, "hi": hi, "id_base": 0}
        steps.append(
            _Step("messages", MESSAGES_INSERT, params, hi - lo + 1, _step_seed(plan.seed, number))
        )
    for offset, (name, query, total) in enumerate(
        (
            ("food entries", _FOOD, plan.rows("food_entries")),
            ("reminders", _REMINDERS, plan.rows("reminders")),
            ("tracking categories", _CATEGORIES, plan.users * 3),
            ("tracking entries", _TRACKING, plan.rows("tracking_entries")),
            ("xp transactions", _XP, plan.rows("xp_transactions")),
        ),
        start=CHUNKS + 1,
    ):
        steps.append(_Step(name, query, {**base, "total": total}, total,
                           _step_seed(plan.seed, offset)))  # fmt: skip
    return steps


def _step_seed(seed_value: int, step: int) -> float:
    """setseed()'s argument for one step: a hash of the seed and the step, so no two steps
    (nor two seeds) share a random() sequence."""
    digest = hashlib.blake2b(f"{seed_value}:{step}".encode(), digest_size=4).digest()
    return (int.from_bytes(digest, "big") - 2**31) / 2**31


LOAD_SESSIONS = 2
"""Sessions that load side by side: the server inserts on one core per session, and the rows
do not depend on which session ran a step (each has its own seed, message ids are explicit)."""


def _load(url: str, plan: SeedPlan, progress: Progress) -> None:
    """Run the steps on ``LOAD_SESSIONS`` sessions at once, each step committed on its own;
    then the users' XP totals, which read the XP transactions."""
    steps = _steps(plan)
    local = threading.local()
    sessions: list[psycopg.Connection[tuple[Any, ...]]] = []
    lock = threading.Lock()

    def run(step: _Step) -> _Step:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect(url)
            with lock:
                sessions.append(conn)
        conn.execute("SELECT setseed(%s)", [step.seed])
        conn.execute(step.query, step.params)
        conn.commit()
        return step

    try:
        run(steps[0])  # users, before anything that counts them
        progress(steps[0].name, steps[0].rows)
        with ThreadPoolExecutor(max_workers=LOAD_SESSIONS) as pool:
            futures = [pool.submit(run, step) for step in steps[1:]]
            try:
                for future in as_completed(futures):
                    step = future.result()
                    progress(step.name, step.rows)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        run(_Step("user xp", _USER_XP, {}, plan.users, 0.0))
        progress("user xp", plan.users)
    finally:
        for conn in sessions:
            conn.close()


def _empty(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    conn.execute(
        sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
            sql.SQL(", ").join(sql.Identifier(t) for t in TABLES)
        )
    )


def _prepare(conn: psycopg.Connection[tuple[Any, ...]], replace: bool) -> None:
    """The tables empty (or emptied, asked to), a killed seed's leftovers gone, the secondary
    indexes and foreign keys saved and dropped: committed."""
    existing_rows(conn)  # the schema is there
    if _interrupted(conn):
        # A seed killed half-way: its rows go (the tables were empty, or emptied, when it
        # began), its indexes and keys come back.
        _empty(conn)
        _restore(conn)
        conn.commit()
    present = existing_rows(conn)
    if present and not replace:
        raise UsageError(
            f"conversation_history already holds {present} rows; seed an empty database "
            "or pass --replace to delete every row of the reference tables first"
        )
    filled = tables_with_rows(conn)
    if filled and not replace:
        raise UsageError(
            f"table(s) {', '.join(filled)} already hold rows; seed an empty database or "
            "pass --replace to delete every row of the reference tables first"
        )
    if replace:
        _empty(conn)
    _save_and_drop(conn)
    conn.commit()


def seed(
    url: str,
    *,
    messages: int = DEFAULT_MESSAGES,
    users: int = DEFAULT_USERS,
    seed_value: int = DEFAULT_SEED,
    replace: bool = False,
    progress: Progress = _no_progress,
) -> SeedPlan:
    """Fill the reference schema at ``url``; refuse a non-empty database unless ``replace``.

    The load runs on two sessions side by side, each step committed on its own, with the
    secondary indexes and foreign keys dropped meanwhile (their definitions kept in
    ``RESTORE_TABLE``, committed with the drop). Whatever happens, they come back: after the
    load, after a failed load (the tables emptied first: they were empty, or ``replace`` was
    asked), or, after a seed that was killed, at the start of the next one.
    """
    plan = SeedPlan(messages=messages, users=users, seed=seed_value)
    plan.validate()
    with connect(url) as conn:
        _prepare(conn, replace)
    try:
        _load(url, plan, progress)
    except BaseException:
        with connect(url) as conn:  # back as it was: empty, every index and key in place
            _empty(conn)
            _restore(conn)
            conn.commit()
        raise
    with connect(url) as conn:
        _fix_identities(conn)
        _restore(conn)
        conn.commit()
    progress("indexes and keys", 0)
    vacuum_analyze(url)
    progress("vacuum analyze", 0)
    return plan


def vacuum_analyze(url: str) -> None:
    """``VACUUM (ANALYZE)`` every reference table: statistics for the planner, and the
    visibility map that index-only scans need after a bulk load. Two sessions side by side:
    the messages on one, the other tables on the other (each VACUUM is one process)."""

    def vacuum(tables: tuple[str, ...]) -> None:
        with connect(url, autocommit=True) as conn:
            for table in tables:
                conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))

    biggest = "conversation_history"
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(vacuum, (biggest,)),
                pool.submit(vacuum, tuple(t for t in TABLES if t != biggest))]  # fmt: skip
        for future in done:
            future.result()
