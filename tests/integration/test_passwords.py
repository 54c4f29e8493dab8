"""Generated DSNs with hostile passwords, fed to every command: the password never appears in
stdout or stderr, and the exit code is 2 (Alembic's own CLI: non-zero), never a traceback."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from tests.integration.helpers import Run, run_cli

HOSTILE = "%/#?[]@: '\"\\=&;$é€\t"
COMMANDS = [
    ("explain", "--dsn"),
    ("seed", "--dsn"),
    ("doctor", "--dsn"),
    ("pool", "--dsn"),
    ("bench", "--quick", "--dsn"),
]


def hostile_passwords(count: int, seed: int) -> list[str]:
    """Passwords that start and end with a marker, with URL and libpq metacharacters inside."""
    rng = random.Random(seed)
    found = []
    for i in range(count):
        middle = "".join(
            rng.choice(HOSTILE + string.ascii_letters) for _ in range(rng.randint(1, 12))
        )
        found.append(f"Mk{i}x{middle}Zz{i}q")
    return found


def dsns(password: str) -> list[str]:
    """The same password in the spellings users write: raw, percent-encoded, keyword DSN."""
    escaped = password.replace("\\", "\\\\").replace("'", "\\'")
    return [
        f"postgresql://app:{password}@127.0.0.1:1/app",
        f"postgresql://app:{quote(password, safe='')}@127.0.0.1:1/app",
        f"postgresql+asyncpg://app:{password}@127.0.0.1:99999/app",
        f"host=127.0.0.1 port=1 user=app password='{escaped}' dbname=app",
    ]


def _leaks(password: str, output: str) -> bool:
    # The whole password, and each of its markers, which a partial leak would still show.
    head, tail = password[: password.index("x") + 1], password[password.rindex("Zz") :]
    return password in output or head in output or tail in output


def _runs(cases: list[tuple[str, str]], make: Callable[[str], Run]) -> list[tuple[str, str, Run]]:
    """(password, dsn, run) for each case; the processes run side by side (each mostly waits
    on Python's start), which halves this module's time on two cores."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda case: make(case[1]), cases))
    return [(password, dsn, run) for (password, dsn), run in zip(cases, runs, strict=True)]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_no_command_prints_a_hostile_password(command: tuple[str, ...]) -> None:
    cases = [(p, dsn) for p in hostile_passwords(2, seed=len(command[0])) for dsn in dsns(p)]
    for password, dsn, run in _runs(cases, lambda dsn: run_cli(*command, dsn)):
        output = run.stdout + run.stderr
        assert run.code == 2, (dsn, output)
        assert not _leaks(password, output), (dsn, output)
        assert "Traceback" not in output
        assert output.count("\n") <= 2, output


def test_alembic_never_prints_a_hostile_password() -> None:
    cases = [(p, dsn) for p in hostile_passwords(2, seed=99) for dsn in dsns(p)]

    def upgrade(dsn: str) -> Run:
        return run_cli("-x", f"url={dsn}", "upgrade", "head", module="alembic")

    for password, dsn, run in _runs(cases, upgrade):
        output = run.stdout + run.stderr
        assert run.code != 0
        assert not _leaks(password, output), (dsn, output)
        assert "Traceback" not in output


PASTED = ["Pf@ct/S3c#r%t!", "Wq/b@c:d?e#f%gX", "Qq:rr@ss?tt/uu#vv%ww"]
"""Passwords as people paste them into a URL, unquoted: ``@``, ``/``, ``#``, ``%``, ``:``, ``?``
inside, so a parser splits them and the rest becomes a host or a database name."""
EVERY_CONNECTING = [
    ("explain", "--dsn"),
    ("doctor", "--dsn"),
    ("pool", "--dsn"),
    ("seed", "--dsn"),
    ("advise", "--dsn"),
    ("workload", "capture", "--dsn"),
    ("stats", "export", "--out", "/dev/null", "--dsn"),
    ("fleet", "status", "--dsn"),
    ("trace", "--dsn"),
]


def _any_run_of_three(password: str, output: str) -> str | None:
    return next(
        (password[i : i + 3] for i in range(len(password) - 2) if password[i : i + 3] in output),
        None,
    )


@pytest.mark.parametrize(
    "command", EVERY_CONNECTING, ids=[" ".join(c[:-1]) for c in EVERY_CONNECTING]
)
def test_no_part_of_a_pasted_password_is_ever_shown(command: tuple[str, ...]) -> None:
    """[steady] item 5: ``postgresql://app:Pf@ct/S3c#r%t!@host/db`` printed 11 of the
    password's 14 characters in the connect error (the "host" held them). No 3-character run
    of such a password appears in any command's output."""
    # Pasted raw: the quoted and keyword spellings are the hostile-password tests' above.
    cases = [(p, f"postgresql://app:{p}@127.0.0.1:1/app") for p in PASTED]
    for password, dsn, run in _runs(cases, lambda dsn: run_cli(*command, dsn)):
        output = run.stdout + run.stderr
        assert run.code == 2, (dsn, output)
        assert _any_run_of_three(password, output) is None, (dsn, output)
        assert "Traceback" not in output
