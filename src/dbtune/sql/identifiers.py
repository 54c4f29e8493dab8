"""SQL names as people read them: quoted exactly when PostgreSQL's ``quote_ident`` would quote.

``psycopg.sql.Identifier`` always quotes, which is right for what dbtune runs and noisy for
the fixes it prints (``DROP INDEX CONCURRENTLY "public"."ix_orders"``). :func:`ident` gives a
``psycopg.sql`` fragment that leaves a plain lowercase, non-keyword name bare and quotes
anything else (mixed case, spaces, quotes, keywords) the way the server does, so a printed fix
names the very object the catalog holds: ``"IX_Orders"`` never becomes ``ix_orders``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container

from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from psycopg import sql

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")  # what the server's quote_ident leaves bare
_NEEDS_QUOTES = RESERVED_KEYWORDS | COL_NAME_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS


def quote_ident(name: str) -> str:
    """``name`` as SQL text: bare when it can be, else double-quoted with quotes doubled."""
    if _PLAIN.match(name) and name not in _NEEDS_QUOTES:
        return name
    return '"' + name.replace('"', '""') + '"'


def ident(*names: str) -> sql.SQL:
    """A dotted, minimally quoted name as a ``psycopg.sql`` fragment."""
    return sql.SQL(".".join(quote_ident(n) for n in names))


MAX_NAME_BYTES = 63


def fit_name(name: str) -> str:
    """``name``, or when it passes 63 bytes its head and a stable hash of the whole: cutting it
    would leave a name that stops mid-word, and two long names could become one."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    head = name.encode("utf-8")[: MAX_NAME_BYTES - len(digest) - 1].decode("utf-8", "ignore")
    return f"{head.rstrip('_')}_{digest}"


def derived_name(*parts: str, suffix: str) -> str:
    """``parts_suffix``, shortened with a hash when it would pass PostgreSQL's 63 bytes (the
    server would truncate it silently, and two long names could become one)."""
    name = "_".join((*parts, suffix))
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    room = MAX_NAME_BYTES - len(suffix) - len(digest) - 2
    head = "_".join(parts).encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return f"{head}_{digest}_{suffix}"


def free_name(name: str, taken: Container[str]) -> str:
    """``name``, or the first of ``name_2``, ``name_3``, ... not in ``taken`` (the names of
    the schema's relations): SQLAlchemy names an ``index=True`` column's index
    ``ix_<table>_<column>``, the shape of dbtune's own names."""
    free, n = name, 1
    while free in taken:
        n += 1
        free = derived_name(name, suffix=str(n))
    return free
