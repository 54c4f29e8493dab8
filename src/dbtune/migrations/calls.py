"""The Python call of an online helper, as dbtune prints it: in generated revisions (the
autogenerate hook) and as the safer way of a ``dbtune trace`` finding — one spelling for both,
with every name passed exactly as the catalog holds it."""

from __future__ import annotations

from collections.abc import Sequence


def create_index_call(
    name: str,
    table: str,
    columns: Sequence[str],
    *,
    include: Sequence[str] = (),
    where: str | None = None,
    unique: bool = False,
    schema: str | None = None,
) -> str:
    args = [repr(name), repr(table), repr(list(columns))]
    if include:
        args.append(f"include={list(include)!r}")
    if where is not None:
        args.append(f"where={where!r}")
    if unique:
        args.append("unique=True")
    if schema:
        args.append(f"schema={schema!r}")
    return f"create_index_online({', '.join(args)})"


def drop_index_call(name: str, table: str, *, schema: str | None = None) -> str:
    args = [repr(name), repr(table)] + ([f"schema={schema!r}"] if schema else [])
    return f"drop_index_online({', '.join(args)})"
