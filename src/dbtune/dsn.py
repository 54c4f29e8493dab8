"""Database URLs: one place that normalises them for each driver and hides their passwords.

Users hand dbtune the URL their service already has (``postgresql://``, ``postgres://`` or a
SQLAlchemy ``postgresql+driver://``). Each consumer needs a different spelling, and every error
message needs one with the password masked.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from dbtune.errors import UsageError

APPLICATION_NAME = "dbtune"

_SCHEME = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?://", re.IGNORECASE)
_PASSWORD_IN_URL = re.compile(r"(://[^:/@?#]*:)([^@/?#]*)(@)")
_PASSWORD_IN_KEYWORDS = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask every password in a URL, a keyword DSN or a message that quotes one."""
    text = _PASSWORD_IN_URL.sub(
        lambda m: m.group(1) + ("***" if m.group(2) else "") + m.group(3), text
    )
    return _PASSWORD_IN_KEYWORDS.sub(lambda m: m.group(1) + "***", text)


def resolve_url(explicit: str | None) -> str | None:
    """The URL given on the command line, else ``DATABASE_URL``, else None."""
    if explicit:
        return explicit
    env = os.environ.get("DATABASE_URL", "").strip()
    return env or None


def _check(url: str) -> re.Match[str]:
    match = _SCHEME.match(url)
    if match is None:
        shown = redact(url)
        raise UsageError(
            f"not a PostgreSQL URL: {shown!r}; expected postgresql://user:password@host:port/dbname"
        )
    return match


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg, asyncpg) reads it: no SQLAlchemy ``+driver`` suffix."""
    if "://" not in url and "=" in url:
        return url  # a keyword DSN such as "host=... dbname=..."
    match = _check(url)
    return "postgresql://" + url[match.end() :]


def sqlalchemy_url(url: str, *, async_: bool = False) -> str:
    """The URL as SQLAlchemy reads it: ``postgresql+psycopg`` by default, asyncpg when async."""
    match = _check(url)
    driver = match.group(2)
    if driver is None:
        driver = "+asyncpg" if async_ else "+psycopg"
    return f"postgresql{driver.lower()}://" + url[match.end() :]


def is_async_url(url: str) -> bool:
    """True when the URL names an asyncio driver (``+asyncpg``, ``+psycopg_async``)."""
    match = _SCHEME.match(url)
    return bool(
        match and match.group(2) and match.group(2).lower() in {"+asyncpg", "+psycopg_async"}
    )


def describe(url: str) -> str:
    """A short, password-free name of the target for reports: ``host:port/dbname``."""
    if "://" not in url:
        return redact(url)
    parts = urlsplit(libpq_url(url))
    host = parts.hostname or ""
    if not host and "host=" in parts.query:
        host = parts.query.split("host=", 1)[1].split("&", 1)[0]
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path}"
