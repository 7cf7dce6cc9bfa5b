"""The model base: every table binds to the one database proxy in :mod:`mms_tui.db`."""

from __future__ import annotations

import datetime as dt

import peewee

from mms_tui.db import database


def now() -> dt.datetime:
    """Local wall-clock time, to the second: the desk, the receipts and the day reports all speak it."""
    return dt.datetime.now().replace(microsecond=0)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False
