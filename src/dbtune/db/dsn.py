"""Database URLs: parsed once, spelled for each driver, never shown with their password.

Users hand dbtune the URL their service already has (``postgresql://``, ``postgres://``, a
SQLAlchemy ``postgresql+driver://`` or a libpq keyword string ``host=... dbname=...``). The text
is parsed once with the libraries made for it — SQLAlchemy's ``make_url`` for URLs, psycopg's
``conninfo_to_dict`` for keyword strings — before any driver sees it, and each driver then gets
keywords rather than a URL to re-parse. That matters for passwords: libpq percent-decodes a URL
and echoes it in its error when a password such as ``100%sure`` is not valid percent-encoding,
and ``urlsplit`` raises with the URL in its message on a ``[`` or a bad port. A text that cannot
be parsed is reported without being shown, since it may hold a password.

Every password parsed here is also remembered, so :func:`redact` can mask it wherever it
appears, even in a driver message this module never formatted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import psycopg

from dbtune.errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

APPLICATION_NAME = "dbtune"
MASK = "***"

_SCHEMES = {"postgres", "postgresql"}
_ASYNC_DRIVERS = {"asyncpg", "psycopg_async"}
_PASSWORD_IN_URL = re.compile(r"(://[^:/@?#\s]*:)([^@\s]*)(@)")
_PASSWORD_IN_KEYWORDS = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_KNOWN_PASSWORDS: set[str] = set()
_SHAPE = "expected postgresql://user:password@host:port/dbname or host=... dbname=..."


def redact(text: str) -> str:
    """Mask every password in a URL, a keyword DSN or a message that quotes one."""
    for password in sorted(_KNOWN_PASSWORDS, key=len, reverse=True):
        text = text.replace(password, MASK)
    text = _PASSWORD_IN_URL.sub(
        lambda m: m.group(1) + (MASK if m.group(2) else "") + m.group(3), text
    )
    return _PASSWORD_IN_KEYWORDS.sub(lambda m: m.group(1) + MASK, text)


def _remember(password: str | None) -> None:
    # One-character passwords would mask every such character in every message; they are
    # still masked where a URL or keyword pattern shows them.
    if password and len(password) > 1:
        _KNOWN_PASSWORDS.add(password)


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    """A parsed connection target: the keywords libpq understands, plus the driver named."""

    params: tuple[tuple[str, str], ...]
    driver: str | None = None

    @property
    def keywords(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def is_async(self) -> bool:
        """Whether the driver named is an asyncio one (``asyncpg``, ``psycopg_async``)."""
        return self.driver in _ASYNC_DRIVERS

    def conninfo(self) -> str:
        """A libpq keyword string (values quoted by psycopg), for psycopg and psycopg_pool."""
        return psycopg.conninfo.make_conninfo("", **self.keywords)

    def sqlalchemy(self, *, async_: bool = False) -> URL:
        """A SQLAlchemy URL object: passed as an object, its password is never re-parsed."""
        kw = self.keywords
        driver = self.driver or ("asyncpg" if async_ else "psycopg")
        host, port = kw.pop("host", None), kw.pop("port", None)
        query: dict[str, str] = {}
        if host and ("," in host or host.startswith("/")):
            query["host"] = host
            host = None
        if port and (query or "," in port):
            query["port"] = port
            port = None
        from sqlalchemy.engine import URL  # SQLAlchemy only for its callers (see _from_url)

        return URL.create(
            f"postgresql+{driver}",
            username=kw.pop("user", None),
            password=kw.pop("password", None),
            host=host,
            port=int(port) if port else None,
            database=kw.pop("dbname", None),
            query={**query, **kw},
        )

    def asyncpg_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncpg.connect``/``create_pool`` (it reads no conninfo)."""
        kw = self.keywords
        out: dict[str, Any] = {}
        for key, name in (("host", "host"), ("user", "user"), ("password", "password")):
            if key in kw:
                out[name] = kw.pop(key)
        if "dbname" in kw:
            out["database"] = kw.pop("dbname")
        if "port" in kw:
            out["port"] = int(kw.pop("port"))
        if "sslmode" in kw:
            out["ssl"] = kw.pop("sslmode")
        if "connect_timeout" in kw:
            out["timeout"] = float(kw.pop("connect_timeout"))
        settings = {k: v for k, v in kw.items() if k == "application_name"}
        if settings:
            out["server_settings"] = settings
        return out

    def describe(self) -> str:
        """A short, password-free name of the target for reports: ``host:port/dbname``."""
        kw = self.keywords
        host = kw.get("host", "")
        port = f":{kw['port']}" if kw.get("port") and not host.startswith("/") else ""
        return f"{host}{port}/{kw.get('dbname', '')}"


def _unparseable(what: str) -> UsageError:
    return UsageError(f"{what} (the text is not shown: it may hold a password); {_SHAPE}")


def _check_port(port: str) -> None:
    for part in port.split(","):
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise UsageError(f"invalid port {part!r} in the database URL: use 1-65535")


def _from_url(text: str) -> ParsedUrl:
    # Imported here: the pytest plugin's own imports reach this module, and a psycopg-only
    # test suite should not pay for SQLAlchemy (~0.1 s).
    from sqlalchemy.engine import make_url

    try:
        url = make_url(text)
    except (ValueError, TypeError, Exception):
        raise _unparseable("the database URL could not be parsed") from None
    backend, _, driver = url.drivername.partition("+")
    if backend.lower() not in _SCHEMES:
        raise UsageError(f"not a PostgreSQL URL (scheme {backend!r}); {_SHAPE}")
    in_query = sum(k.count("@") + str(v).count("@") for k, v in url.query.items())
    if (url.host and ("@" in url.host or "/" in url.host)) or text.count("@") > 1 + in_query:
        # A password pasted unquoted: split at its '@', the rest of it became the host or
        # the database name, and any message naming them would print most of it.
        raise _unparseable(
            "the database URL has more than one '@' before its host: a password holding "
            "'@', '/', '#', '%', ':' or '?' must be URL-quoted (an '@' is %40, a '/' %2F; "
            "urllib.parse.quote(password, safe='') does it), or give a keyword DSN"
        )
    _remember(url.password if isinstance(url.password, str) else None)
    params: dict[str, str] = {}
    if url.host:
        params["host"] = url.host
    if url.port is not None:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    if url.password:
        params["password"] = str(url.password)
    if url.database:
        params["dbname"] = url.database
    for key, value in url.query.items():
        params[key] = value if isinstance(value, str) else ",".join(value)
    _remember(params.get("password"))  # also when given as ?password=
    if "port" in params:
        _check_port(params["port"])
    return ParsedUrl(tuple(params.items()), driver.lower() or None)


def _from_keywords(text: str) -> ParsedUrl:
    try:
        params = psycopg.conninfo.conninfo_to_dict(text)
    except psycopg.Error:
        raise _unparseable("the connection string could not be parsed") from None
    _remember(str(params.get("password") or "") or None)
    clean = {k: str(v) for k, v in params.items() if v is not None}
    if "port" in clean:
        _check_port(clean["port"])
    return ParsedUrl(tuple(clean.items()))


@lru_cache(maxsize=128)
def parse_target(text: str) -> ParsedUrl:
    """Parse a URL or keyword DSN once (the same text is not parsed again: every connection,
    description and driver form reads this); every failure is a :class:`UsageError` without
    it."""
    text = text.strip()
    if not text:
        raise UsageError(f"the database URL is empty; {_SHAPE}")
    if "://" in text:
        return _from_url(text)
    if "=" in text:
        return _from_keywords(text)
    raise _unparseable("the database URL is neither a URL nor a keyword string")


def resolve_url(explicit: str | None, env: str = "DATABASE_URL") -> str | None:
    """The URL given on the command line, else the variable ``env`` (``DATABASE_URL`` unless
    ``[tool.dbtune] dsn_env`` says otherwise), else None; checked early."""
    url = explicit or os.environ.get(env, "").strip() or None
    if url is not None:
        parse_target(url)
    return url


def libpq_url(url: str) -> str:
    """The target as libpq (psycopg) reads it: a keyword string, never a URL to re-decode."""
    return parse_target(url).conninfo()


def sqlalchemy_url(url: str, *, async_: bool = False) -> URL:
    """The target as SQLAlchemy reads it: ``postgresql+psycopg`` by default, asyncpg if async."""
    return parse_target(url).sqlalchemy(async_=async_)


def is_async_url(url: str) -> bool:
    """True when the URL names an asyncio driver (``+asyncpg``, ``+psycopg_async``)."""
    return parse_target(url).is_async


def describe(url: str) -> str:
    """A short, password-free name of the target for reports: ``host:port/dbname``."""
    try:
        return parse_target(url).describe()
    except UsageError:
        return "<unparseable database URL>"
