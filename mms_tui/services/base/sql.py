"""Resolving the things an operation names (staff, store, member, card), the card usability rule, and the
written-out SQL the hot paths run.

The desk's hottest operations (a swipe, a quote, a checkout) run their statements written out once, through
peewee's own connection (:func:`run_sql`, ``?`` placeholders): building the same query through the ORM each time
costs about 0.2 ms of Python per statement, twenty times the database's own work for a keyed read
(BENCHMARKS.md). :func:`row_model` turns such a row back into the model instance the ORM would have made, and
:func:`insert_model` writes one as ``Model.create`` would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import peewee

from mms_tui.db import database, is_sqlite

M = TypeVar("M", bound=peewee.Model)


# ------------------------------------------------------------------------------------------------ written-out SQL


def run_sql(statement: str, params: Iterable[object] = ()) -> Any:
    """Run ``statement`` (``?`` placeholders, double-quoted names) through peewee's connection; the cursor.

    Inside the caller's transaction, with peewee's errors (``IntegrityError``, ``OperationalError``) as the ORM
    would raise them."""
    return database.execute_sql(statement.replace("?", database.param), tuple(params))


def fetch_rows(statement: str, params: Iterable[object] = ()) -> list[tuple]:
    return run_sql(statement, params).fetchall()


_COLUMNS: dict[tuple[type, str], str] = {}


def columns(model: type[peewee.Model], alias: str) -> str:
    """Every column of ``model`` as ``"alias"."column", …``, in the order :func:`row_model` reads them."""
    key = (model, alias)
    text = _COLUMNS.get(key)
    if text is None:
        text = _COLUMNS[key] = ", ".join(f'"{alias}"."{f.column_name}"' for f in model._meta.sorted_fields)
    return text


def row_model(model: type[M], row: Sequence[object], start: int = 0) -> M:
    """The instance the ORM makes of a row whose columns from ``start`` on are :func:`columns` of ``model``:
    values converted as the fields convert them (dates from SQLite's text, booleans from 0/1), nothing dirty."""
    data = {}
    for i, f in enumerate(model._meta.sorted_fields, start):
        value = row[i]
        data[f.name] = value if value is None else f.python_value(value)
    # what Model.__init__(__no_default__=1, **data) leaves behind (foreign keys hold the related id), without
    # a descriptor call per field
    obj = model.__new__(model)
    obj.__data__ = data
    obj._dirty = set()
    obj.__rel__ = {}
    return obj


def fetch_model(model: type[M], where: str, params: Iterable[object] = (), order: str = "") -> M | None:
    """The first row of ``model`` matching ``where`` (written against the alias ``t``) in ``order``, or None."""
    sql = f'SELECT {columns(model, "t")} FROM "{model._meta.table_name}" AS "t" WHERE {where}'
    rows = fetch_rows(f"{sql} ORDER BY {order} LIMIT 1" if order else f"{sql} LIMIT 1", params)
    return row_model(model, rows[0]) if rows else None


_INSERTS: dict[tuple[type, tuple[str, ...], int, bool], str] = {}


def _insert_sql(model: type[peewee.Model], names: tuple[str, ...], rows: int, returning: bool) -> str:
    key = (model, names, rows, returning)
    sql = _INSERTS.get(key)
    if sql is None:
        fields = model._meta.fields
        cols = ", ".join(f'"{fields[n].column_name}"' for n in names)
        one = "(" + ", ".join("?" for _n in names) + ")"
        sql = f'INSERT INTO "{model._meta.table_name}" ({cols}) VALUES ' + ", ".join(one for _r in range(rows))
        if returning:
            sql += f' RETURNING "{model._meta.primary_key.column_name}"'
        sql = _INSERTS[key] = sql
    return sql


def insert_model(model: type[M], **values: Any) -> M:
    """``model.create(**values)`` as one written-out INSERT: the same defaults, the same values stored, the same
    instance returned (its new id set, nothing dirty)."""
    obj = model(**values)
    data = obj.__data__
    pk = model._meta.primary_key
    names = tuple(n for n in data if not (n == pk.name and data[n] is None))
    fields = model._meta.fields
    params = [fields[n].db_value(data[n]) for n in names]
    auto = model._meta.auto_increment and data.get(pk.name) is None
    if auto and not is_sqlite():
        obj._pk = run_sql(_insert_sql(model, names, 1, True), params).fetchone()[0]
    else:
        cursor = run_sql(_insert_sql(model, names, 1, False), params)
        if auto:
            obj._pk = cursor.lastrowid
    obj._dirty.clear()
    return obj


def insert_rows(model: type[peewee.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """``model.insert_many(rows).execute()`` for rows that all name the same fields, as one written-out INSERT."""
    if not rows:
        return
    names = tuple(rows[0])
    fields = [model._meta.fields[n] for n in names]
    params = [f.db_value(row[f.name]) for row in rows for f in fields]
    run_sql(_insert_sql(model, names, len(rows), False), params)
