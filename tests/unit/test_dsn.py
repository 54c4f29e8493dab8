"""URL spelling per driver, and passwords never shown."""

from __future__ import annotations

import pytest

from dbtune.dsn import describe, is_async_url, libpq_url, redact, sqlalchemy_url
from dbtune.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x"),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
        ("host=db password=s3cret dbname=x", "host=db password=*** dbname=x"),
        ("password='s 3cret' host=db", "password=*** host=db"),
        (
            "could not connect to postgresql://u:p%40ss@h/d: refused",
            "could not connect to postgresql://u:***@h/d: refused",
        ),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_driver_spellings() -> None:
    assert libpq_url("postgres://u@h/d") == "postgresql://u@h/d"
    assert libpq_url("postgresql+asyncpg://u@h/d") == "postgresql://u@h/d"
    assert libpq_url("host=h dbname=d") == "host=h dbname=d"
    assert sqlalchemy_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert sqlalchemy_url("postgresql://u@h/d", async_=True) == "postgresql+asyncpg://u@h/d"
    assert sqlalchemy_url("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert is_async_url("postgresql+asyncpg://u@h/d")
    assert not is_async_url("postgresql://u@h/d")


def test_describe_has_no_password() -> None:
    assert describe("postgresql://u:s3cret@db.example:6432/app") == "db.example:6432/app"
    assert describe("postgresql://u@/app?host=/run/pg") == "/run/pg/app"


def test_other_schemes_are_rejected_without_the_password() -> None:
    with pytest.raises(UsageError) as info:
        libpq_url("mysql://root:s3cret@h/d")
    assert "s3cret" not in str(info.value)
