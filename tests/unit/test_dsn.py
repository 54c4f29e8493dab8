"""URL spelling per driver, and passwords never shown."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from dbtune.db import CONNECT_TIMEOUT_S, connect_timeout
from dbtune.db.dsn import describe, is_async_url, libpq_url, parse_target, redact, sqlalchemy_url
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
    assert libpq_url("postgres://u@h/d") == "host=h user=u dbname=d"
    assert libpq_url("postgresql+asyncpg://u@h:6432/d") == "host=h port=6432 user=u dbname=d"
    assert conninfo_to_dict(libpq_url("host=h dbname=d")) == {"host": "h", "dbname": "d"}
    assert str(sqlalchemy_url("postgresql://u@h/d")) == "postgresql+psycopg://u@h/d"
    assert str(sqlalchemy_url("postgresql://u@h/d", async_=True)) == "postgresql+asyncpg://u@h/d"
    assert str(sqlalchemy_url("postgresql+asyncpg://u@h/d")) == "postgresql+asyncpg://u@h/d"
    assert is_async_url("postgresql+asyncpg://u@h/d")
    assert not is_async_url("postgresql://u@h/d")


HOSTILE = ["100%sure", "a b", "a/b", "a#b", "a?b", "a[b", "p%40x", "x'y\\z", "é€:;="]


@pytest.mark.parametrize("password", HOSTILE)
def test_hostile_passwords_reach_libpq_intact(password: str) -> None:
    params = conninfo_to_dict(libpq_url(f"postgresql://u:{password}@h:5432/d"))
    expected = password.replace("%40", "@")
    assert params == {"host": "h", "port": "5432", "user": "u", "password": expected, "dbname": "d"}
    assert parse_target(f"postgresql://u:{password}@h/d").asyncpg_kwargs()["password"] == expected
    assert sqlalchemy_url(f"postgresql://u:{password}@h/d").password == expected


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:s3cret@h:99999/d",
        "postgresql://u:s3cret@h:abc/d",
        "postgresql://u:s3cret@[::1/d",
        "postgresql://u:s3c@ret@h/d",
        "mysql://root:s3cret@h/d",
        "host=h password='s3cret",
        "s3cret",
    ],
)
def test_unusable_urls_are_usage_errors_without_the_password(url: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_target(url)
    assert "s3c" not in info.value.message


def test_a_parsed_password_is_masked_everywhere() -> None:
    parse_target("postgresql://u:Hunter2Secret@h/d")
    assert redact("server said: Hunter2Secret is wrong") == "server said: *** is wrong"


def test_describe_has_no_password() -> None:
    assert describe("postgresql://u:s3cret@db.example:6432/app") == "db.example:6432/app"
    assert describe("postgresql://u@/app?host=/run/pg") == "/run/pg/app"


def test_other_schemes_are_rejected_without_the_password() -> None:
    with pytest.raises(UsageError) as info:
        libpq_url("mysql://root:s3cret@h/d")
    assert "s3cret" not in str(info.value)


def test_a_password_given_as_a_query_parameter_is_masked_too() -> None:
    parse_target("postgresql://u@h/d?password=QueryParamSecret")
    assert redact("FATAL: QueryParamSecret rejected") == "FATAL: *** rejected"


def test_the_connect_timeout_is_the_users_where_they_set_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    assert connect_timeout("postgresql://app:pw@db/app") == CONNECT_TIMEOUT_S == 10
    assert connect_timeout("postgresql://app:pw@db/app?connect_timeout=3") == 3
    assert connect_timeout("host=db dbname=app connect_timeout=0") == 0  # libpq: for ever
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "4")
    assert connect_timeout("postgresql://app:pw@db/app") == 4
    assert connect_timeout("postgresql://app:pw@db/app?connect_timeout=3") == 3  # the URL first
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="PGCONNECT_TIMEOUT") as raised:
        connect_timeout("postgresql://app:pw@db/app")
    assert "pw" not in str(raised.value)
