"""Numbered schema migrations, recorded in ``schema_version``.

A new database gets every table from the current models in one step and is stamped with the latest number; an
existing one runs, in order, each migration it has not recorded. A migration is a function of the database and a
``playhouse.migrate`` migrator; add new ones to the end of ``MIGRATIONS`` and never edit a released one.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

from mms_tui.db import database, write_transaction
from mms_tui.models import ALL_MODELS, SchemaVersion

Migration = Callable[[peewee.Database, object], None]


def _initial(db: peewee.Database, migrator: object) -> None:
    db.create_tables(ALL_MODELS)


#: (number, name, function); numbers are consecutive from 1
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial schema", _initial),
]

LATEST = MIGRATIONS[-1][0]


def current_version() -> int:
    """0 for an empty database."""
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar()
    return int(row or 0)


def migrate() -> list[int]:
    """Create or upgrade the schema; return the numbers applied now (empty when already current)."""
    applied: list[int] = []
    version = current_version()
    if version > LATEST:
        raise RuntimeError(
            f"database schema {version} is newer than this program knows ({LATEST}); upgrade mms first"
        )
    db = database.obj
    migrator = SqliteMigrator(db) if isinstance(db, peewee.SqliteDatabase) else PostgresqlMigrator(db)
    with write_transaction():
        if version == 0:
            db.create_tables(ALL_MODELS)
            for number, name, _fn in MIGRATIONS:
                SchemaVersion.create(version=number, name=name)
                applied.append(number)
            return applied
        for number, name, fn in MIGRATIONS:
            if number > version:
                fn(db, migrator)
                SchemaVersion.create(version=number, name=name)
                applied.append(number)
    return applied
