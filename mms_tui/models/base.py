"""The model base: every table binds to the one database proxy in :mod:`mms_tui.db`."""

from __future__ import annotations

import peewee

from mms_tui.clock import now
from mms_tui.db import database

__all__ = ["BaseModel", "database", "now"]


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False
