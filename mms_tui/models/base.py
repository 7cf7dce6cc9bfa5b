"""The model base: every table binds to the one database proxy in :mod:`mms_tui.db`; every timestamp is a
:class:`Moment`."""

from __future__ import annotations

import datetime as dt
import json

import peewee

from mms_tui import clock
from mms_tui.clock import now, today
from mms_tui.db import database

__all__ = ["BaseModel", "Moment", "database", "index_of_set", "now", "today"]


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


def index_of_set(model: type[peewee.Model], *fields: peewee.Field, unique: bool = False) -> None:
    """An index of ``fields`` over the rows whose first field is set (issue #27, migration 28): most rows leave it
    empty (a card replaced, a transaction reversed, a family, a price level, a ledger entry on a card), and an
    ordinary index keeps an entry for every empty one too. A query that asks for a value (``= ?``, ``IN``, a join
    on it) reads it, as before; a unique one refuses a second row with the same value, as before."""
    model.add_index(*fields, unique=unique, where=fields[0].is_null(False))


def _time_settings() -> tuple[str | None, str | None] | None:
    """The zones the open database records (``config``: ``time_zone``, ``history_time_zone``); None before it
    has the table."""
    if database.obj is None or not database.table_exists("config"):
        return None
    found = dict(database.execute_sql(
        f'SELECT "key", "value" FROM "config" WHERE "key" IN ({database.param}, {database.param})',
        ("time_zone", "history_time_zone")).fetchall())
    zones = [json.loads(found[key]) if key in found else None for key in ("time_zone", "history_time_zone")]
    served = clock.served_store()
    if served and "time_zone" in {c.name for c in database.get_columns("store")}:
        own = database.execute_sql(f'SELECT "time_zone" FROM "store" WHERE "code" = {database.param}',
                                   (served,)).fetchone()
        if own and own[0]:  # the served store's own zone (migration 23) before the chain's
            zones[0] = own[0]
    return zones[0], zones[1]


clock.read_settings_with(_time_settings)


class Moment(peewee.DateTimeField):
    """A timestamp stored as naive UTC and read as the store's naive wall time (:mod:`mms_tui.clock`).

    Everything that reaches the database through the field converts: values saved, values a query compares it
    with (a date there stands for its first moment), and results of ``MAX``/``MIN`` over it. Written-out SQL that
    reads the column raw gets UTC and converts with :func:`Moment.from_db`."""

    def db_value(self, value):
        value = super().db_value(value)  # text parsed as peewee parses it
        if isinstance(value, dt.datetime):
            return clock.to_utc(value)
        if isinstance(value, dt.date):
            return clock.to_utc(dt.datetime.combine(value, dt.time()))
        return value

    def python_value(self, value):
        return self.from_db(super().python_value(value))

    @staticmethod
    def from_db(value):
        """A raw value of a Moment column (SQLite's text, PostgreSQL's datetime) as store wall time."""
        value = clock.parse_stored(value)
        return clock.from_utc(value) if isinstance(value, dt.datetime) else value
